package io.github.dsconv.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Property tests of the plan parser: random valid plans round-trip through {@link ConversionPlan#toJson()}, and
 * thousands of mutated plan texts (dropped, duplicated and retyped fields, out-of-range and huge numbers, floats,
 * strings, nested garbage, truncated text) either parse to exactly what the text says or fail with a one-line
 * IllegalArgumentException, never another exception and never a coerced value.
 */
class ConversionPlanFuzzTest {

    private static final ObjectMapper LENIENT = new ObjectMapper();

    private static final String[] NAMES = {"stem", "b1a", "b1b", "conv2", "s3b1a_conv", "layer0", "a b", "ü", ""};

    /** Literals of every JSON type, valid and invalid for every field. */
    private static final String[] GARBAGE = {"\"4\"", "4.0", "1e2", "true", "false", "null", "4294967298", "-1", "0",
            "1", "2", "8", "9", "16", "17", "32", "65536", "65537", "2147483647", "-2147483648", "99999999999999999999",
            "-0.5", "0.5", "3", "3.0", "1e400", "-0", "-0.0", "[]", "{}", "[1,{\"a\":[]}]", "\"yes\"", "\"\"",
            "{\"x\":{\"y\":[null]}}", "{\"skip\":true}", "{\"weightBits\":6}", "1E1", "0e0", "12345678901"};

    private record Field(String key, String literal) {
    }

    // ---------------------------------------------------------------------------------------------------------
    // generation

    private static ConversionPlan randomPlan(Random r) {
        LayerSpec spec = new LayerSpec(2 + r.nextInt(7), r.nextInt(4) == 0 ? 0 : 2 + r.nextInt(15),
                r.nextInt(5) == 0 ? 1 + r.nextInt(LayerSpec.MAX_BLOCK_SIZE) : 1 + r.nextInt(64));
        Map<String, LayerOverride> layers = new LinkedHashMap<>();
        for (int i = r.nextInt(4); i > 0; i--) {
            String name = NAMES[r.nextInt(NAMES.length)] + (r.nextBoolean() ? "" : "_" + r.nextInt(100));
            layers.put(name, r.nextInt(3) == 0 ? LayerOverride.skipped() : new LayerOverride(false,
                    r.nextBoolean() ? null : 2 + r.nextInt(7), r.nextBoolean() ? null : r.nextInt(3) == 0 ? 0
                    : 2 + r.nextInt(15), r.nextBoolean() ? null : 1 + r.nextInt(LayerSpec.MAX_BLOCK_SIZE)));
        }
        double minCompression = switch (r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> r.nextInt(10);
            case 2 -> r.nextDouble() * 10;
            default -> Math.scalb(r.nextDouble(), r.nextInt(200) - 100);
        };
        return new ConversionPlan(spec, layers, r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), r.nextBoolean(),
                r.nextBoolean(), r.nextBoolean(), minCompression);
    }

    @Test
    void randomValidPlansRoundTrip() {
        Random r = new Random(20240516);
        for (int i = 0; i < 2000; i++) {
            ConversionPlan plan = randomPlan(r);
            assertEquals(plan, ConversionPlan.fromJson(plan.toJson()));
            assertEquals(plan, ConversionPlan.parse(plan.toJson().toString()));
            assertEquals(plan, ConversionPlan.parse(plan.toJson().toPrettyString()));
        }
    }

    /** The fields of a plan's JSON, as (key, literal) pairs that mutations can drop, duplicate and retype. */
    private static List<Field> fields(JsonNode n) {
        List<Field> out = new ArrayList<>();
        n.fields().forEachRemaining(e -> out.add(new Field(e.getKey(), e.getValue().toString())));
        return out;
    }

    private static String object(List<Field> fields) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < fields.size(); i++) {
            b.append(i == 0 ? "" : ", ").append(LENIENT.getNodeFactory().textNode(fields.get(i).key()))
                    .append(": ").append(fields.get(i).literal());
        }
        return b.append('}').toString();
    }

    private static String garbage(Random r) {
        return GARBAGE[r.nextInt(GARBAGE.length)];
    }

    private static void mutate(List<Field> fields, Random r, boolean inLayer) {
        if (fields.isEmpty() && r.nextBoolean()) {
            fields.add(new Field(inLayer ? "weightBits" : "blockSize", garbage(r)));
            return;
        }
        int i = fields.isEmpty() ? -1 : r.nextInt(fields.size());
        switch (r.nextInt(7)) {
            case 0 -> { // drop
                if (i >= 0) {
                    fields.remove(i);
                }
            }
            case 1 -> { // duplicate, with the same or another value
                if (i >= 0) {
                    Field f = fields.get(i);
                    fields.add(r.nextInt(fields.size() + 1), new Field(f.key(), r.nextBoolean() ? f.literal()
                            : garbage(r)));
                }
            }
            case 2, 3 -> { // retype / out of range
                if (i >= 0) {
                    fields.set(i, new Field(fields.get(i).key(), garbage(r)));
                }
            }
            case 4 -> fields.add(new Field(inLayer ? "skip" : "skipFirst", garbage(r)));
            case 5 -> fields.add(new Field(r.nextInt(4) == 0 ? "bogus" : inLayer ? "blockSize" : "minCompression",
                    garbage(r)));
            default -> fields.add(r.nextInt(fields.size() + 1), new Field(inLayer ? "actBits" : "formatVersion",
                    r.nextBoolean() ? "1" : garbage(r)));
        }
    }

    /** A mutated plan text, built field by field so that keys can repeat. */
    private static String mutatedText(Random r) {
        JsonNode json = randomPlan(r).toJson();
        List<Field> top = fields(json);
        top.removeIf(f -> f.key().equals("layers"));
        List<Field> layers = new ArrayList<>();
        json.get("layers").fields().forEachRemaining(e -> {
            List<Field> entry = fields(e.getValue());
            if (r.nextInt(3) == 0) {
                mutate(entry, r, true);
            }
            layers.add(new Field(e.getKey(), object(entry)));
        });
        for (int m = r.nextInt(3); m > 0; m--) {
            switch (r.nextInt(3)) {
                case 0 -> mutate(top, r, false);
                case 1 -> { // a layer named twice, or an entry that is not an object
                    if (!layers.isEmpty()) {
                        Field l = layers.get(r.nextInt(layers.size()));
                        layers.add(new Field(l.key(), r.nextBoolean() ? l.literal() : garbage(r)));
                    }
                }
                default -> layers.add(new Field(NAMES[r.nextInt(NAMES.length)], r.nextBoolean() ? "{\"skip\": true}"
                        : garbage(r)));
            }
        }
        if (r.nextInt(10) > 0) {
            top.add(r.nextInt(top.size() + 1), new Field("layers", r.nextInt(20) == 0 ? garbage(r) : object(layers)));
        }
        String text = object(top);
        return switch (r.nextInt(12)) {
            case 0 -> text.substring(0, r.nextInt(text.length() + 1)); // truncated
            case 1 -> { // one character changed
                int at = r.nextInt(text.length());
                String chars = "{}[]:,\"\\ 0-9e.tnx";
                yield text.substring(0, at) + chars.charAt(r.nextInt(chars.length())) + text.substring(at + 1);
            }
            case 2 -> text + (r.nextBoolean() ? " {}" : " x"); // trailing text
            case 3 -> "[" + text + "]";
            default -> text;
        };
    }

    // ---------------------------------------------------------------------------------------------------------
    // the oracle: what a text literally says, by the rules of the class comment

    /** An int field's value if the literal is an in-range integer literal, else null. */
    private static Integer intValue(JsonNode v, int lo, int hi, boolean zeroToo) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt()) {
            return null;
        }
        int i = v.intValue();
        return (i >= lo && i <= hi) || (zeroToo && i == 0) ? i : null;
    }

    /** The plan the text must parse to, or null when it must be rejected; {@code tree} is a lenient parse. */
    private static ConversionPlan expected(JsonNode tree, boolean duplicates) {
        if (duplicates || tree == null || !tree.isObject()) {
            return null;
        }
        Set<String> known = Set.of("formatVersion", "weightBits", "actBits", "blockSize", "skipFirst",
                "quantizeNetworkInput", "kdsBias", "cds", "clippingSearch", "unsignedActivations", "minCompression",
                "layers");
        for (String k : iterable(tree)) {
            if (!known.contains(k)) {
                return null;
            }
        }
        JsonNode fv = tree.get("formatVersion");
        if (fv != null && intValue(fv, 1, 1, false) == null) {
            return null;
        }
        Integer w = tree.has("weightBits") ? intValue(tree.get("weightBits"), 2, 8, false) : (Integer) 4;
        Integer a = tree.has("actBits") ? intValue(tree.get("actBits"), 2, 16, true) : (Integer) 8;
        Integer b = tree.has("blockSize") ? intValue(tree.get("blockSize"), 1, 65536, false) : (Integer) 32;
        if (w == null || a == null || b == null) {
            return null;
        }
        Boolean[] flags = new Boolean[6];
        String[] names = {"skipFirst", "quantizeNetworkInput", "kdsBias", "cds", "clippingSearch",
                "unsignedActivations"};
        for (int i = 0; i < names.length; i++) {
            JsonNode v = tree.get(names[i]);
            if (v != null && !v.isBoolean()) {
                return null;
            }
            flags[i] = v == null ? i == 1 : v.booleanValue();
        }
        double minCompression = 3;
        JsonNode mc = tree.get("minCompression");
        if (mc != null) {
            if (!mc.isNumber() || !Double.isFinite(mc.doubleValue()) || mc.doubleValue() < 0) {
                return null;
            }
            minCompression = mc.doubleValue();
        }
        Map<String, LayerOverride> layers = new LinkedHashMap<>();
        JsonNode ln = tree.get("layers");
        if (ln != null) {
            if (!ln.isObject()) {
                return null;
            }
            for (String name : iterable(ln)) {
                JsonNode e = ln.get(name);
                if (!e.isObject()) {
                    return null;
                }
                for (String k : iterable(e)) {
                    if (!Set.of("skip", "weightBits", "actBits", "blockSize").contains(k)) {
                        return null;
                    }
                }
                if (e.has("skip") && !e.get("skip").isBoolean()) {
                    return null;
                }
                boolean skip = e.has("skip") && e.get("skip").booleanValue();
                Integer lw = e.has("weightBits") ? intValue(e.get("weightBits"), 2, 8, false) : null;
                Integer la = e.has("actBits") ? intValue(e.get("actBits"), 2, 16, true) : null;
                Integer lb = e.has("blockSize") ? intValue(e.get("blockSize"), 1, 65536, false) : null;
                if ((e.has("weightBits") && lw == null) || (e.has("actBits") && la == null)
                        || (e.has("blockSize") && lb == null)) {
                    return null;
                }
                if (skip && (lw != null || la != null || lb != null)) {
                    return null;
                }
                layers.put(name, new LayerOverride(skip, lw, la, lb));
            }
        }
        return new ConversionPlan(new LayerSpec(w, a, b), layers, flags[0], flags[1], flags[2], flags[3], flags[4],
                flags[5], minCompression);
    }

    private static Iterable<String> iterable(JsonNode n) {
        return n::fieldNames;
    }

    /** Whether any object in the text has a key twice (found with a streaming pass over the lenient parser). */
    private static boolean hasDuplicates(String text) {
        try (var p = LENIENT.getFactory().createParser(text)) {
            List<Set<String>> stack = new ArrayList<>();
            for (var t = p.nextToken(); t != null; t = p.nextToken()) {
                switch (t) {
                    case START_OBJECT -> stack.add(new HashSet<>());
                    case END_OBJECT -> stack.remove(stack.size() - 1);
                    case FIELD_NAME -> {
                        if (!stack.get(stack.size() - 1).add(p.currentName())) {
                            return true;
                        }
                    }
                    default -> {
                    }
                }
            }
            return false;
        } catch (Exception e) {
            return false; // not JSON: the lenient tree is null too
        }
    }

    /** The lenient parse of the whole text (null when it is not exactly one JSON value). */
    private static JsonNode lenientTree(String text) {
        try (var p = LENIENT.getFactory().createParser(text)) {
            JsonNode n = LENIENT.readTree(p);
            return p.nextToken() == null ? n : null;
        } catch (Exception e) {
            return null;
        }
    }

    @Test
    void mutatedPlanTextsParseExactlyOrFailWithOneLine() {
        Random r = new Random(16_3);
        int accepted = 0;
        int rejected = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < 4000; i++) {
            String text = mutatedText(r);
            JsonNode tree = lenientTree(text);
            ConversionPlan want = expected(tree, hasDuplicates(text));
            ConversionPlan got;
            try {
                got = ConversionPlan.parse(text);
            } catch (IllegalArgumentException e) {
                String m = e.getMessage();
                assertNotNull(m, text);
                assertFalse(m.isBlank(), text);
                assertFalse(m.contains("\n") || m.contains("\r"), () -> "one line: " + m);
                assertNull(want, () -> "rejected a valid plan " + text + ": " + m);
                rejected++;
                continue;
            } catch (RuntimeException e) {
                fail("not an IllegalArgumentException for " + text, e);
                return;
            }
            assertEquals(want, got, text);
            assertEquals(got, ConversionPlan.fromJson(got.toJson()), text);
            accepted++;
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("plan fuzz: %d accepted, %d rejected in %.2f s%n", accepted, rejected, seconds);
        assertTrue(accepted > 400 && rejected > 1500, accepted + " accepted, " + rejected + " rejected");
        assertTrue(seconds < 15, seconds + " s (measured about 2 s)");
    }
}

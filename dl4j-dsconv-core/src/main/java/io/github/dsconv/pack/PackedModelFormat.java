package io.github.dsconv.pack;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.io.AtomicFiles;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvParamInitializer;
import io.github.dsconv.quant.Half;
import io.github.dsconv.quant.ScalePrecision;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * The packed DSConv model file, {@code *.dsconv.zip} (format version 1): a converted network stored at the
 * precision the spec's Storage paragraph (section 1) prescribes, read back into a DL4J
 * {@link MultiLayerNetwork} or {@link ComputationGraph}.
 *
 * <p>The file is a zip with these entries:
 * <ul>
 *   <li>{@code dsconv.format}, first and uncompressed, holding the ASCII marker {@code "dsconv packed model\n"}:
 *       a reader recognises the format from the file's first bytes (as ODF and EPUB do with their
 *       {@code mimetype} entry), whatever the file is called;</li>
 *   <li>{@code network.json}: the network configuration ({@code conf.toJson()});</li>
 *   <li>{@code params/0000}, {@code params/0001}, ...: one per layer parameter, in the order of the flat
 *       parameter vector (layers in topological order, each layer's parameters in its initializer's order);</li>
 *   <li>{@code dsconv.manifest.json}: a {@link PackedManifest} (format version, model kind, the
 *       {@code ConversionPlan}, provenance, the segment table and a SHA-256 per entry), and
 *       {@code dsconv.manifest.sha256}, the SHA-256 of the manifest.</li>
 * </ul>
 *
 * <p>How each parameter is stored (little endian):
 * <ul>
 *   <li>DSConv {@code q}: packed at the layer's weight bits with {@link BitPacker} ({@code int2} .. {@code int8});</li>
 *   <li>DSConv {@code alpha}, {@code beta}, {@code gamma}, {@code delta}: at the layer's
 *       {@link DSConvLayer#getScalePrecision() scale precision} (fp16, fp32 for the network's first convolution);
 *       the converter already rounds them so, so nothing changes. Scales trained in fp32 later (distillation)
 *       are rounded to that precision on writing;</li>
 *   <li>kernels of convolutions left unconverted (skipped by the plan): fp32, they were kept on purpose;</li>
 *   <li>everything else (dense and output layers, batch norm including its running mean and variance, every
 *       bias): the {@link Options#paramsPrecision() params precision}, fp16 by default, fp32 as an option.</li>
 * </ul>
 * An fp16 parameter with a finite value beyond the fp16 range is stored in fp32 instead (the segment says so).
 * Updater state is not stored: a loaded network infers and can be fine-tuned, but its optimizer starts afresh.
 *
 * <p>Loading rebuilds the network from {@code network.json}, decodes every segment into a new flat parameter
 * vector and calls {@code init(params, false)}. With fp32 params the loaded network computes bit-identically
 * to the one written; with fp16 params it computes bit-identically to the written network with its parameters
 * replaced by {@link #storedParams}. Reading verifies the marker, the manifest checksum, the format version, the
 * entry set and every entry's size and SHA-256, so a truncated or corrupt file fails with a one-line
 * {@link IOException} naming the file instead of loading as a different model. Writing goes to a temporary
 * file that is moved into place.
 */
public final class PackedModelFormat {

    /** The format version this code writes and the only one it reads. */
    public static final int FORMAT_VERSION = 1;
    /** The file name suffix that selects this format when saving. */
    public static final String SUFFIX = ".dsconv.zip";
    /** Library name and version recorded in the provenance. */
    public static final String LIBRARY = "dl4j-dsconv 0.1.0 (deeplearning4j 1.0.0-M2.1)";

    static final String MARKER_ENTRY = "dsconv.format";
    static final byte[] MARKER = "dsconv packed model\n".getBytes(StandardCharsets.US_ASCII);
    static final String MANIFEST_ENTRY = "dsconv.manifest.json";
    static final String MANIFEST_SHA_ENTRY = "dsconv.manifest.sha256";
    static final String NETWORK_ENTRY = "network.json";
    static final String PARAMS_PREFIX = "params/";

    private static final String MLN = "MultiLayerNetwork";
    private static final String CG = "ComputationGraph";
    private static final long MAX_MANIFEST_BYTES = 64L << 20;
    private static final byte[] ZIP_LOCAL_HEADER = {'P', 'K', 3, 4};
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private PackedModelFormat() {
    }

    /**
     * Writing options.
     *
     * @param paramsPrecision precision of the parameters other than DSConv kernels and scales and unconverted
     *                        convolution kernels. Defaults to {@link ScalePrecision#FP16}.
     * @param plan            the conversion plan to record (JSON), or {@code null}. Defaults to none.
     * @param source          file name of the model packed, for the provenance, or {@code null}. Defaults to none.
     */
    public record Options(ScalePrecision paramsPrecision, JsonNode plan, String source) {

        public Options {
            java.util.Objects.requireNonNull(paramsPrecision, "paramsPrecision");
        }

        /** fp16 params, no plan, no source. */
        public static Options defaults() {
            return new Options(ScalePrecision.FP16, null, null);
        }

        /** A copy with another params precision. */
        public Options withParamsPrecision(ScalePrecision p) {
            return new Options(p, plan, source);
        }

        /** A copy recording this plan. */
        public Options withPlan(ConversionPlan p) {
            return new Options(paramsPrecision, p == null ? null : p.toJson(), source);
        }

        /** A copy recording this source file name. */
        public Options withSource(String s) {
            return new Options(paramsPrecision, plan, s);
        }
    }

    /**
     * What a write produced.
     *
     * @param file                the file written
     * @param fileBytes           its size
     * @param convWeightBytes     encoded bytes of the convolution kernels inside (DSConv {@code q} and scales,
     *                            unconverted kernels), before zip compression; conv biases are not counted
     * @param fp32ConvWeightBytes the same kernels in FP32 (4 bytes a weight)
     * @param otherParamBytes     encoded bytes of every other parameter, before zip compression
     * @param manifest            the manifest written
     */
    public record Written(Path file, long fileBytes, long convWeightBytes, long fp32ConvWeightBytes,
                          long otherParamBytes, PackedManifest manifest) {
    }

    /** Whether a file name ends with {@link #SUFFIX} (case-insensitive). */
    public static boolean hasPackedSuffix(Path file) {
        return file.getFileName() != null
                && file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(SUFFIX);
    }

    /** Whether a file starts like a packed model: a zip whose first entry is {@code dsconv.format}. */
    public static boolean isPacked(Path file) {
        byte[] head = new byte[30 + MARKER_ENTRY.length()];
        try (InputStream in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, head.length) != head.length) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        if (!Arrays.equals(head, 0, 4, ZIP_LOCAL_HEADER, 0, 4)) {
            return false;
        }
        int nameLen = (head[26] & 0xff) | (head[27] & 0xff) << 8;
        return nameLen == MARKER_ENTRY.length() && new String(head, 30, nameLen, StandardCharsets.US_ASCII)
                .equals(MARKER_ENTRY);
    }

    /** Whether an open zip holds a packed model's marker or manifest (for files whose first bytes are damaged). */
    public static boolean looksPacked(ZipFile zip) {
        return zip.getEntry(MARKER_ENTRY) != null || zip.getEntry(MANIFEST_ENTRY) != null;
    }

    // -------------------------------------------------------------------------------------------------------
    // writing

    /**
     * Writes a network (parameters of data type FLOAT) as a packed file, atomically.
     *
     * @throws IllegalArgumentException if the network is not FLOAT or a DSConv {@code q} holds a value that is
     *                                  not an integer of the layer's bit width
     */
    public static Written write(Model model, Path file, Options options) throws IOException {
        Network net = Network.of(model);
        List<Slot> slots = layout(net, options.paramsPrecision());
        INDArray flat = flatParams(net);
        Map<String, Integer> bits = new LinkedHashMap<>();
        for (Slot s : slots) {
            if (s.dsconv() != null) {
                bits.putIfAbsent(s.layer(), s.dsconv().getWeightBits());
            }
        }
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = AtomicFiles.tempFor(target);
        try {
            List<PackedManifest.Entry> entries = new ArrayList<>();
            List<PackedManifest.Segment> segments = new ArrayList<>();
            long convBytes = 0;
            long fp32ConvBytes = 0;
            long otherBytes = 0;
            PackedManifest written;
            try (OutputStream fos = Files.newOutputStream(tmp);
                 ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(fos, 1 << 16))) {
                ZipEntry marker = new ZipEntry(MARKER_ENTRY);
                marker.setMethod(ZipEntry.STORED);
                marker.setSize(MARKER.length);
                marker.setCompressedSize(MARKER.length);
                CRC32 crc = new CRC32();
                crc.update(MARKER);
                marker.setCrc(crc.getValue());
                zip.putNextEntry(marker);
                zip.write(MARKER);
                zip.closeEntry();

                entries.add(putEntry(zip, NETWORK_ENTRY, net.configJson().getBytes(StandardCharsets.UTF_8)));
                for (int i = 0; i < slots.size(); i++) {
                    Slot s = slots.get(i);
                    float[] v = slice(flat, s);
                    Encoded enc = encode(s, v);
                    String name = String.format(java.util.Locale.ROOT, "%s%04d", PARAMS_PREFIX, i);
                    entries.add(putEntry(zip, name, enc.bytes()));
                    segments.add(new PackedManifest.Segment(s.layer(), s.param(), s.offset(), s.length(),
                            enc.encoding(), name));
                    if (s.convKernel()) {
                        convBytes += enc.bytes().length;
                        if (s.kernelWeights()) {
                            fp32ConvBytes += 4L * s.length();
                        }
                    } else {
                        otherBytes += enc.bytes().length;
                    }
                }
                PackedManifest manifest = new PackedManifest(FORMAT_VERSION, net.kind(), DataType.FLOAT.name(),
                        flat.length(), options.paramsPrecision().name(), options.plan(),
                        new PackedManifest.Provenance(LIBRARY, options.source(), Instant.now().toString(), bits),
                        segments, entries);
                byte[] mbytes = JSON.writeValueAsBytes(manifest);
                putEntry(zip, MANIFEST_ENTRY, mbytes);
                putEntry(zip, MANIFEST_SHA_ENTRY, (sha256(mbytes) + "\n").getBytes(StandardCharsets.US_ASCII));
                written = manifest;
            }
            long size = Files.size(tmp);
            AtomicFiles.moveIntoPlace(tmp, target); // or staged until an open OutputSet commits
            return new Written(target, size, convBytes, fp32ConvBytes, otherBytes, written);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * The flat parameter vector exactly as a packed file written with this params precision holds it (fp16
     * values rounded half to even, everything else unchanged). A loaded file has these parameters.
     */
    public static INDArray storedParams(Model model, ScalePrecision paramsPrecision) {
        Network net = Network.of(model);
        INDArray flat = flatParams(net);
        INDArray out = Nd4j.create(DataType.FLOAT, 1, flat.length());
        for (Slot s : layout(net, paramsPrecision)) {
            Encoded e = encode(s, slice(flat, s));
            out.get(NDArrayIndex.point(0), NDArrayIndex.interval(s.offset(), s.offset() + s.length()))
                    .assign(Nd4j.createFromArray(decode(e.encoding(), e.bytes(), (int) s.length())));
        }
        return out;
    }

    private static PackedManifest.Entry putEntry(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
        zip.putNextEntry(new ZipEntry(name));
        zip.write(bytes);
        zip.closeEntry();
        return new PackedManifest.Entry(name, bytes.length, sha256(bytes));
    }

    private static INDArray flatParams(Network net) {
        INDArray p = net.model().params();
        if (p.dataType() != DataType.FLOAT) {
            throw new IllegalArgumentException("the packed format stores FLOAT networks; this one has "
                    + p.dataType() + " parameters");
        }
        return p.reshape(p.length());
    }

    private static float[] slice(INDArray flat, Slot s) {
        return flat.get(NDArrayIndex.interval(s.offset(), s.offset() + s.length())).toFloatVector();
    }

    private record Encoded(String encoding, byte[] bytes) {
    }

    private static Encoded encode(Slot s, float[] v) {
        if (s.bits() > 0) {
            byte[] q = new byte[v.length];
            int lo = BitPacker.minValue(s.bits());
            int hi = BitPacker.maxValue(s.bits());
            for (int i = 0; i < v.length; i++) {
                float f = v[i];
                if (f != Math.rint(f) || f < lo || f > hi) {
                    throw new IllegalArgumentException("layer '" + s.layer() + "': q[" + i + "] = " + f
                            + " is not a " + s.bits() + "-bit integer in [" + lo + ", " + hi + "]");
                }
                q[i] = (byte) f;
            }
            return new Encoded("int" + s.bits(), BitPacker.pack(q, s.bits()));
        }
        if (s.precision() == ScalePrecision.FP16) {
            ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            boolean overflow = false;
            for (float f : v) {
                short h = Half.fromFloat(f);
                if (Float.isFinite(f) && Float.isInfinite(Half.toFloat(h))) {
                    overflow = true;
                    break;
                }
                b.putShort(h);
            }
            if (!overflow) {
                return new Encoded("fp16", b.array());
            }
        }
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return new Encoded("fp32", b.array());
    }

    private static float[] decode(String encoding, byte[] bytes, int n) {
        float[] out = new float[n];
        switch (encoding) {
            case "fp16" -> {
                requireLength(bytes, 2L * n, encoding);
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n; i++) {
                    out[i] = Half.toFloat(b.getShort());
                }
            }
            case "fp32" -> {
                requireLength(bytes, 4L * n, encoding);
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n; i++) {
                    out[i] = b.getFloat();
                }
            }
            default -> {
                byte[] q = BitPacker.unpack(bytes, intBits(encoding), n);
                for (int i = 0; i < n; i++) {
                    out[i] = q[i];
                }
            }
        }
        return out;
    }

    private static int intBits(String encoding) {
        if (encoding.length() == 4 && encoding.startsWith("int")) {
            int b = encoding.charAt(3) - '0';
            if (b >= BitPacker.MIN_BITS && b <= BitPacker.MAX_BITS) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown encoding '" + encoding + "'");
    }

    private static void requireLength(byte[] bytes, long expected, String encoding) {
        if (bytes.length != expected) {
            throw new IllegalArgumentException(encoding + " segment has " + bytes.length + " bytes, expected "
                    + expected);
        }
    }

    // -------------------------------------------------------------------------------------------------------
    // reading

    /** Reads a packed model; every failure is an {@link IOException} with a one-line message naming the file. */
    public static Model read(Path file) throws IOException {
        return open(file, true).model();
    }

    /** Reads and verifies a packed file's manifest (and every entry's checksum) without building the network. */
    public static PackedManifest readManifest(Path file) throws IOException {
        return open(file, false).manifest();
    }

    private record Loaded(PackedManifest manifest, Model model) {
    }

    private static Loaded open(Path file, boolean build) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("model file not found: " + file);
        }
        try (ZipFile zip = new ZipFile(file.toFile())) {
            return read(zip, build);
        } catch (BadFileException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        } catch (ZipException e) {
            throw new IOException(file + ": truncated or corrupt packed model (not a readable zip: "
                    + firstLine(e) + ")", e);
        } catch (IOException | RuntimeException e) {
            throw new IOException(file + ": corrupt packed model (" + firstLine(e) + ")", e);
        }
    }

    /** A problem with the file's content, worded for the user. */
    private static final class BadFileException extends IOException {
        BadFileException(String message) {
            super(message);
        }

        BadFileException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static Loaded read(ZipFile zip, boolean build) throws IOException {
        ZipEntry markerEntry = zip.getEntry(MARKER_ENTRY);
        if (markerEntry == null || !Arrays.equals(MARKER, readEntry(zip, markerEntry, MARKER.length))) {
            throw new BadFileException("not a packed DSConv model (missing or bad " + MARKER_ENTRY + " marker)");
        }
        ZipEntry me = zip.getEntry(MANIFEST_ENTRY);
        if (me == null) {
            throw new BadFileException("corrupt packed model (no " + MANIFEST_ENTRY + ")");
        }
        byte[] mbytes = readEntry(zip, me, MAX_MANIFEST_BYTES);
        JsonNode tree;
        try {
            tree = JSON.readTree(mbytes);
        } catch (JsonProcessingException e) {
            throw new BadFileException("corrupt packed model (manifest is not valid JSON)", e);
        }
        ZipEntry se = zip.getEntry(MANIFEST_SHA_ENTRY);
        if (se != null) {
            String want = new String(readEntry(zip, se, 256), StandardCharsets.US_ASCII);
            if (!want.equals(sha256(mbytes) + "\n")) {
                throw new BadFileException("corrupt packed model (manifest checksum mismatch)");
            }
        }
        JsonNode v = tree == null ? null : tree.get("formatVersion");
        if (v == null || !v.isInt()) {
            throw new BadFileException("corrupt packed model (manifest has no integer formatVersion)");
        }
        if (v.intValue() != FORMAT_VERSION) {
            throw new BadFileException("unsupported packed format version " + v.intValue() + " (this build reads "
                    + FORMAT_VERSION + ")");
        }
        if (se == null) {
            throw new BadFileException("corrupt packed model (no " + MANIFEST_SHA_ENTRY + ")");
        }
        PackedManifest m;
        try {
            m = JSON.treeToValue(tree, PackedManifest.class);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new BadFileException("corrupt packed model (bad manifest: " + firstLine(e) + ")", e);
        }
        Map<String, PackedManifest.Entry> entries = checkEntrySet(zip, m);
        byte[] conf = verified(zip, entries.get(NETWORK_ENTRY));
        if (!build) {
            for (PackedManifest.Segment s : m.segments()) {
                verified(zip, entries.get(s.entry()));
            }
            return new Loaded(m, null);
        }
        if (!DataType.FLOAT.name().equals(m.dataType())) {
            throw new BadFileException("corrupt packed model (data type " + m.dataType() + ", expected FLOAT)");
        }
        ScalePrecision pp;
        try {
            pp = ScalePrecision.valueOf(m.paramsPrecision());
        } catch (IllegalArgumentException e) {
            throw new BadFileException("corrupt packed model (params precision '" + m.paramsPrecision() + "')");
        }
        Network net = Network.fromJson(m.modelKind(), new String(conf, StandardCharsets.UTF_8));
        INDArray flat = Nd4j.create(DataType.FLOAT, 1, m.numParams());
        net.init(flat);
        List<Slot> slots = layout(net, pp);
        if (slots.size() != m.segments().size()) {
            throw new BadFileException("corrupt packed model (" + m.segments().size() + " parameter segments, the"
                    + " network has " + slots.size() + ")");
        }
        INDArray row = flat.reshape(flat.length());
        for (int i = 0; i < slots.size(); i++) {
            Slot s = slots.get(i);
            PackedManifest.Segment g = m.segments().get(i);
            String expected = s.bits() > 0 ? "int" + s.bits() : s.precision() == ScalePrecision.FP16 ? "fp16" : "fp32";
            boolean encodingOk = g.encoding().equals(expected) || (expected.equals("fp16") && g.encoding().equals(
                    "fp32"));
            if (!g.layer().equals(s.layer()) || !g.param().equals(s.param()) || g.offset() != s.offset()
                    || g.length() != s.length() || !encodingOk) {
                throw new BadFileException("corrupt packed model (segment " + i + " " + g.layer() + "/" + g.param()
                        + " does not match the network's " + s.layer() + "/" + s.param() + ")");
            }
            float[] values = decode(g.encoding(), verified(zip, entries.get(g.entry())), (int) g.length());
            row.get(NDArrayIndex.interval(s.offset(), s.offset() + s.length())).assign(Nd4j.createFromArray(values));
        }
        return new Loaded(m, net.model());
    }

    private static Map<String, PackedManifest.Entry> checkEntrySet(ZipFile zip, PackedManifest m)
            throws BadFileException {
        Map<String, PackedManifest.Entry> byName = new LinkedHashMap<>();
        for (PackedManifest.Entry e : m.entries()) {
            if (byName.put(e.name(), e) != null) {
                throw new BadFileException("corrupt packed model (entry " + e.name() + " listed twice)");
            }
        }
        if (!byName.containsKey(NETWORK_ENTRY)) {
            throw new BadFileException("corrupt packed model (manifest lists no " + NETWORK_ENTRY + ")");
        }
        for (PackedManifest.Segment s : m.segments()) {
            if (!byName.containsKey(s.entry())) {
                throw new BadFileException("corrupt packed model (segment entry " + s.entry() + " not listed)");
            }
        }
        Set<String> expected = new TreeSet<>(byName.keySet());
        expected.addAll(List.of(MARKER_ENTRY, MANIFEST_ENTRY, MANIFEST_SHA_ENTRY));
        Set<String> actual = new TreeSet<>();
        Enumeration<? extends ZipEntry> en = zip.entries();
        while (en.hasMoreElements()) {
            actual.add(en.nextElement().getName());
        }
        if (!actual.equals(expected)) {
            Set<String> missing = new TreeSet<>(expected);
            missing.removeAll(actual);
            Set<String> extra = new TreeSet<>(actual);
            extra.removeAll(expected);
            throw new BadFileException("corrupt packed model (entries missing: " + missing + ", unexpected: "
                    + extra + ")");
        }
        return byName;
    }

    private static byte[] verified(ZipFile zip, PackedManifest.Entry e) throws IOException {
        ZipEntry ze = zip.getEntry(e.name());
        byte[] b = readEntry(zip, ze, e.bytes());
        if (b.length != e.bytes() || !sha256(b).equals(e.sha256())) {
            throw new BadFileException("corrupt packed model (checksum mismatch in " + e.name() + ")");
        }
        return b;
    }

    /** Reads an entry, at most {@code limit} bytes plus one (so an oversized entry shows as too long). */
    private static byte[] readEntry(ZipFile zip, ZipEntry e, long limit) throws IOException {
        try (InputStream in = zip.getInputStream(e)) {
            return in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
        }
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).strip();
    }

    // -------------------------------------------------------------------------------------------------------
    // layout

    /**
     * One parameter's place in the flat vector and its storage.
     *
     * @param bits      packed integer bits (DSConv {@code q}), or 0 for a float parameter
     * @param precision float storage precision when {@code bits == 0}
     * @param dsconv    the DSConv layer configuration, or {@code null}
     * @param convKernel part of a convolution kernel (DSConv {@code q} and scales, or an unconverted kernel)
     * @param kernelWeights one value per kernel weight (DSConv {@code q} or an unconverted kernel)
     */
    private record Slot(String layer, String param, long offset, long length, int bits, ScalePrecision precision,
                        DSConvLayer dsconv, boolean convKernel, boolean kernelWeights) {
    }

    private static List<Slot> layout(Network net, ScalePrecision paramsPrecision) {
        List<Slot> slots = new ArrayList<>();
        INDArray flat = net.model().params();
        long offset = 0;
        for (Map.Entry<String, Layer> e : net.layers()) {
            Layer layer = e.getValue();
            org.deeplearning4j.nn.conf.layers.Layer conf = layer.conf().getLayer();
            while (conf instanceof BaseWrapperLayer w) {
                conf = w.getUnderlying();
            }
            for (Map.Entry<String, INDArray> p : layer.paramTable().entrySet()) {
                String key = p.getKey();
                INDArray view = p.getValue();
                long len = view.length();
                if (flat != null && view.data() == flat.data() && view.offset() - flat.offset() != offset) {
                    throw new IllegalStateException("parameter " + e.getKey() + "/" + key + " is at offset "
                            + (view.offset() - flat.offset()) + " of the flat vector, expected " + offset);
                }
                Slot s;
                if (conf instanceof DSConvLayer ds) {
                    switch (key) {
                        case DSConvParamInitializer.Q_KEY ->
                                s = new Slot(e.getKey(), key, offset, len, ds.getWeightBits(), null, ds, true, true);
                        case DSConvParamInitializer.BIAS_KEY ->
                                s = new Slot(e.getKey(), key, offset, len, 0, paramsPrecision, ds, false, false);
                        default ->
                                s = new Slot(e.getKey(), key, offset, len, 0, ds.getScalePrecision(), ds, true, false);
                    }
                } else if (conf instanceof ConvolutionLayer c && c.initializer().isWeightParam(c, key)) {
                    s = new Slot(e.getKey(), key, offset, len, 0, ScalePrecision.FP32, null, true, true);
                } else {
                    s = new Slot(e.getKey(), key, offset, len, 0, paramsPrecision, null, false, false);
                }
                slots.add(s);
                offset += len;
            }
        }
        long total = flat == null ? 0 : flat.length();
        if (offset != total) {
            throw new IllegalStateException("layer parameters add up to " + offset + " values, the network has "
                    + total);
        }
        return slots;
    }

    /** A MultiLayerNetwork or ComputationGraph behind one face. */
    private record Network(Model model) {

        static Network of(Model model) {
            if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
                throw new IllegalArgumentException("the packed format stores a MultiLayerNetwork or"
                        + " ComputationGraph, not " + (model == null ? "null" : model.getClass().getSimpleName()));
            }
            return new Network(model);
        }

        static Network fromJson(String kind, String json) throws BadFileException {
            try {
                return switch (kind) {
                    case MLN -> new Network(new MultiLayerNetwork(MultiLayerConfiguration.fromJson(json)));
                    case CG -> new Network(new ComputationGraph(ComputationGraphConfiguration.fromJson(json)));
                    default -> throw new BadFileException("corrupt packed model (unknown model kind '" + kind + "')");
                };
            } catch (RuntimeException e) {
                throw new BadFileException("corrupt packed model (bad network configuration: " + firstLine(e) + ")",
                        e);
            }
        }

        String kind() {
            return model instanceof MultiLayerNetwork ? MLN : CG;
        }

        String configJson() {
            return model instanceof MultiLayerNetwork m ? m.getLayerWiseConfigurations().toJson()
                    : ((ComputationGraph) model).getConfiguration().toJson();
        }

        void init(INDArray params) {
            if (model instanceof MultiLayerNetwork m) {
                m.init(params, false);
            } else {
                ((ComputationGraph) model).init(params, false);
            }
        }

        /** Layers with their names, in the order of the flat parameter vector. */
        List<Map.Entry<String, Layer>> layers() {
            List<Map.Entry<String, Layer>> out = new ArrayList<>();
            if (model instanceof MultiLayerNetwork m) {
                Layer[] ls = m.getLayers();
                for (int i = 0; i < ls.length; i++) {
                    String name = ls[i].conf().getLayer().getLayerName();
                    out.add(Map.entry(name == null ? "layer" + i : name, ls[i]));
                }
            } else {
                ComputationGraph g = (ComputationGraph) model;
                GraphVertex[] vs = g.getVertices();
                for (int idx : g.topologicalSortOrder()) {
                    GraphVertex v = vs[idx];
                    if (v.hasLayer()) {
                        out.add(Map.entry(v.getVertexName(), v.getLayer()));
                    }
                }
            }
            return out;
        }
    }
}

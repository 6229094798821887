package io.github.dsconv.examples;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;

import java.io.IOException;

/**
 * The JSON mapper of every machine-readable output: indented, records as objects, and non-finite doubles
 * (e.g. the infinite SQNR of an exactly representable kernel) written as {@code null} so the output stays
 * valid JSON.
 */
public final class Json {

    /** The shared mapper. */
    public static final ObjectMapper MAPPER = create();

    private Json() {
    }

    private static ObjectMapper create() {
        StdSerializer<Double> finiteOrNull = new StdSerializer<>(Double.class) {
            @Override
            public void serialize(Double v, JsonGenerator gen, SerializerProvider provider) throws IOException {
                if (v == null || v.isNaN() || v.isInfinite()) {
                    gen.writeNull();
                } else {
                    gen.writeNumber(v);
                }
            }
        };
        SimpleModule m = new SimpleModule("finite-doubles");
        m.addSerializer(Double.class, finiteOrNull);
        m.addSerializer(double.class, finiteOrNull);
        return new ObjectMapper().registerModule(m).enable(SerializationFeature.INDENT_OUTPUT);
    }

    /** Pretty JSON text of a value, with a trailing newline. */
    public static String write(Object value) throws IOException {
        return MAPPER.writeValueAsString(value) + "\n";
    }
}

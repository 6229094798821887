package io.github.dsconv.engine;

import java.util.Locale;

/** Which implementation runs the int8 block products of the integer engine. */
public enum Backend {
    /** oneDNN batched s8 x s8 -> s32 matmul through {@code org.bytedeco:dnnl} (JIT kernels, VNNI where present). */
    ONEDNN("onednn"),
    /** Plain-Java int loops: the fallback when the oneDNN native library cannot load. */
    JAVA("java");

    private final String label;

    Backend(String label) {
        this.label = label;
    }

    /** The name used on the command line and in JSON ({@code onednn} or {@code java}). */
    public String label() {
        return label;
    }

    /**
     * Parses {@code onednn} or {@code java} (case-insensitive).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static Backend parse(String name) {
        for (Backend b : values()) {
            if (b.label.equals(name.toLowerCase(Locale.ROOT))) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown integer backend '" + name + "' (expected onednn or java)");
    }
}

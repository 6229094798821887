package io.github.dsconv.engine;

/**
 * How the integer engine splits a layer's output positions into tiles, shared by the input quantization
 * ({@link BfpInputQuantizer}), the kernel ({@link IntegerConvKernel}) and its output pass ({@link OutputPass}).
 */
final class Tiling {

    /** Output positions per tile: large enough for efficient GEMMs, small enough to stay in cache. */
    static final int TILE_POSITIONS = 256;

    private Tiling() {
    }

    /** {@code ceil(a / b)} for {@code a >= 0, b > 0} ({@code Math.ceilDiv} needs Java 18). */
    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}

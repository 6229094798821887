package io.github.dsconv.engine;

/**
 * The calling thread's buffers for one layer's input copy, mantissas, block scales, double sums and float output,
 * reused from layer to layer (layers run one at a time): allocating them afresh cost ResNet50 about 5 GB of
 * garbage per batch of 8, all of it zeroed by the JVM on one thread. They grow to the largest layer seen and are
 * overwritten completely before they are read (see {@link BfpInputQuantizer#quantizeAll} and
 * {@link IntegerConvKernel}'s tiles).
 */
final class LayerBuffers {

    private static final ThreadLocal<LayerBuffers> LAYER_BUFFERS = ThreadLocal.withInitial(LayerBuffers::new);

    float[] x = new float[0];
    /** The FP32 stem route's BFP input as floats. */
    float[] xb = new float[0];
    byte[] mant = new byte[0];
    float[] scale = new float[0];
    double[] y = new double[0];
    float[] yf = new float[0];
    float[] ylo = new float[0];
    double[] xsum = new double[0];
    float[] z = new float[0];

    /** The calling thread's buffers. */
    static LayerBuffers get() {
        return LAYER_BUFFERS.get();
    }

    static byte[] grow(byte[] a, int n) {
        return a.length >= n ? a : new byte[n];
    }

    static float[] grow(float[] a, int n) {
        return a.length >= n ? a : new float[n];
    }

    static double[] grow(double[] a, int n) {
        return a.length >= n ? a : new double[n];
    }
}

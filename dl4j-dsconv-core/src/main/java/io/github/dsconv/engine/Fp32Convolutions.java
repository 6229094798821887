package io.github.dsconv.engine;

import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.convolution.ConvolutionHelper;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.lang.reflect.Field;

/**
 * Runs the forward pass of a network's DL4J convolutions through oneDNN's FP32 convolution.
 *
 * <p>Why: DL4J 1.0.0-M2.1 on the plain {@code nd4j-native} backend (no oneDNN inside) computes a
 * {@code ConvolutionLayer} as an {@code im2col} into a permuted 6-D buffer plus a gemm, and the {@code im2col}
 * takes most of the time (about 80% of a CIFAR ResNet-20's inference, NCHW or NHWC alike). DL4J has a hook for
 * exactly this, the layer's {@link ConvolutionHelper} (its cuDNN and oneDNN builds install one); this class installs
 * a oneDNN one ({@code org.bytedeco:dnnl}) into each plain convolution layer of a network, in the layer's own layout.
 * The hook is a protected field of {@link ConvolutionLayer}, set by reflection: nothing in the configuration changes,
 * so it is not saved with the model and a {@code clone()} does not carry it.
 *
 * <p>Measured (2 shared cores, batch 250, median of 5 interleaved rounds; {@code ./dsconv bench --model FILE}
 * reports the same ratio as {@code fp32OneDnnSpeedup}): imported CIFAR ResNet-20 14.6 -> 89.4 images/s (6.1x),
 * MLPerf Tiny ResNet-8 40.4 -> 167.6 images/s (4.2x); logits within 1.1e-5 absolute of DL4J's. Running the NHWC
 * graph as an NCHW twin instead was tried and is slower (0.88-0.92x): the layout is not the cost, im2col is.
 *
 * <p>Only the forward pass changes (results equal DL4J's to float rounding; FP32 only, other data types keep
 * DL4J's path); training still backpropagates through DL4J's own code. Convolution subclasses (depthwise,
 * separable, deconvolution) and the project's DSConv layers are not touched.
 */
public final class Fp32Convolutions {

    private static final Field HELPER;

    static {
        try {
            HELPER = ConvolutionLayer.class.getDeclaredField("helper");
            HELPER.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Fp32Convolutions() {
    }

    /**
     * Installs the oneDNN forward pass in every plain convolution layer of a {@link MultiLayerNetwork} or
     * {@link ComputationGraph}; returns how many layers now use it (0 when oneDNN cannot load here:
     * {@link OneDnn#failure()} says why).
     */
    public static int enable(Model model) {
        if (!OneDnn.available()) {
            return 0;
        }
        int n = 0;
        for (Layer l : layers(model)) {
            if (l.getClass() == ConvolutionLayer.class) {
                set(l, new OneDnnConvHelper());
                n++;
            }
        }
        return n;
    }

    /** Removes what {@link #enable} installed (DL4J's built-in forward pass again). */
    public static void disable(Model model) {
        for (Layer l : layers(model)) {
            if (l.getClass() == ConvolutionLayer.class && get(l) instanceof OneDnnConvHelper) {
                set(l, null);
            }
        }
    }

    /** How many layers of the model run their forward pass through oneDNN now. */
    public static int enabledLayers(Model model) {
        int n = 0;
        for (Layer l : layers(model)) {
            if (l.getClass() == ConvolutionLayer.class && get(l) instanceof OneDnnConvHelper) {
                n++;
            }
        }
        return n;
    }

    private static Layer[] layers(Model model) {
        return Network.of(model).dl4jLayers();
    }

    private static Object get(Layer l) {
        try {
            return HELPER.get(l);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void set(Layer l, ConvolutionHelper h) {
        try {
            HELPER.set(l, h);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}

package io.github.dsconv.engine;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.layers.InferenceKernel;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Switches a network's DSConv layers between the float simulation and the integer engine (spec section 3). Every
 * other layer (batch norm, pooling, dense, merges) runs as usual; training passes always use the float simulation.
 *
 * <pre>
 *   EngineReport r = IntegerEngine.enable(network);   // oneDNN if it loads, else plain Java
 *   INDArray logits = network.outputSingle(x);         // DSConv layers now run int8 block products
 *   IntegerEngine.disable(network);
 * </pre>
 *
 * <p>The default backend is oneDNN when its native library loads, else {@link Backend#JAVA}; the system property
 * {@code dsconv.engine.backend=java|onednn} overrides it. A layer whose input is not block floating point (a first
 * convolution converted with {@code quantizeInput=false}) or that has more than 8 activation or weight bits stays on
 * the float simulation and is listed in {@link EngineReport#floatLayers()}. So is a layer whose input channels fit
 * one block of at most 4 (an image stem), where integer products do not pay: by default it runs as a direct
 * convolution in double of its BFP input with the effective kernel (the float simulation's arithmetic, see
 * {@link EngineOptions.Stem}); {@code -Ddsconv.engine.stem=integer} or {@link EngineOptions#exact()} keeps it on
 * integers, {@code -Ddsconv.engine.stem=fp32} makes it an FP32 oneDNN convolution (also listed in
 * {@link EngineReport#fp32Layers()}).
 *
 * <p>In a {@link ComputationGraph}, a {@code BatchNormalization} right after an engine layer is applied in that
 * layer's output pass, bit for bit as DL4J computes it, and its vertex is bypassed until {@link #disable}
 * ({@link BatchNormFusion}; listed in {@link EngineReport#fusedBatchNorms()}; {@link EngineOptions#fuseBatchNorm()},
 * {@code -Ddsconv.engine.fuseBn=false} turns it off). Call {@link #disable} before training such a network.
 */
public final class IntegerEngine {

    /** System property naming the backend ({@code onednn} or {@code java}); unset means "oneDNN if it loads". */
    public static final String BACKEND_PROPERTY = "dsconv.engine.backend";

    private IntegerEngine() {
    }

    /** oneDNN if it loads (unless {@value #BACKEND_PROPERTY} says otherwise), else the plain-Java backend. */
    public static Backend defaultBackend() {
        String forced = System.getProperty(BACKEND_PROPERTY);
        if (forced != null && !forced.isBlank()) {
            return Backend.parse(forced.trim());
        }
        return OneDnn.available() ? Backend.ONEDNN : Backend.JAVA;
    }

    /** Puts the network's DSConv layers on the integer engine with the {@link #defaultBackend() default backend}. */
    public static EngineReport enable(Model network) {
        return enable(network, defaultBackend());
    }

    /**
     * Puts the network's DSConv layers on the integer engine, preparing every layer's packed weights now.
     *
     * @throws IllegalStateException if {@code backend} is {@link Backend#ONEDNN} and oneDNN cannot load
     */
    public static EngineReport enable(Model network, Backend backend) {
        return enable(network, backend, EngineOptions.defaults());
    }

    /**
     * Puts the network's DSConv layers on the integer engine with the given {@link EngineOptions options}.
     *
     * @throws IllegalStateException if {@code backend} is {@link Backend#ONEDNN} and oneDNN cannot load
     */
    public static EngineReport enable(Model network, Backend backend, EngineOptions options) {
        if (backend == Backend.ONEDNN && !OneDnn.available()) {
            throw new IllegalStateException("oneDNN could not load: " + OneDnn.failure());
        }
        Network net = Network.of(network);
        // BatchNormFusion rewires graph vertices: it exists for ComputationGraphs only.
        if (net.isGraph()) {
            BatchNormFusion.unfuse(net.graph()); // a second enable starts from the original graph
        }
        Map<DSConvRuntime, FusedBatchNorm> fused = Map.of();
        List<String> unfused = new ArrayList<>();
        if (options.fuseBatchNorm() && net.isGraph()) {
            fused = BatchNormFusion.candidates(net.graph(), rt -> IntegerConvKernel.supports(rt.layerConf()), unfused);
        }
        List<String> integer = new ArrayList<>();
        List<String> floats = new ArrayList<>();
        List<String> fp32Layers = new ArrayList<>();
        List<String> doubleLayers = new ArrayList<>();
        long fp32 = 0;
        long resident = 0;
        for (Layer l : net.dl4jLayers()) {
            if (l instanceof DSConvRuntime rt) {
                DSConvLayer lc = rt.layerConf();
                long kernel = rt.getParam(io.github.dsconv.layers.DSConvParamInitializer.Q_KEY).length();
                fp32 += 4 * kernel;
                closeKernel(rt);
                if (IntegerConvKernel.supports(lc)) {
                    FusedBatchNorm bn = fused.get(rt);
                    rt.setInferenceKernelFactory(r -> IntegerConvKernel.build(r, backend, options, bn));
                    IntegerConvKernel k = (IntegerConvKernel) rt.inferenceKernel();
                    resident += k.weightBytes();
                    if (k.route() == EngineOptions.Stem.INTEGER) {
                        integer.add(lc.getLayerName());
                    } else {
                        floats.add(lc.getLayerName());
                        (k.route() == EngineOptions.Stem.FP32 ? fp32Layers : doubleLayers).add(lc.getLayerName());
                    }
                } else {
                    rt.setInferenceKernelFactory(null);
                    resident += 4 * kernel;
                    floats.add(lc.getLayerName());
                }
            } else if (l.conf() != null && l.conf().getLayer() instanceof ConvolutionLayer) {
                long kernel = l.getParam("W") == null ? 0 : l.getParam("W").length();
                fp32 += 4 * kernel;
                resident += 4 * kernel;
            }
        }
        List<String> fusedNames = net.isGraph() ? BatchNormFusion.install(net.graph(), fused) : List.of();
        String kernelName = options.nativePath() != null ? "native-fused:" + options.nativePath().label()
                : backend.label() + "-gemm";
        return new EngineReport(backend, integer, floats, doubleLayers, fp32Layers, fp32, resident,
                options.effectiveAccumulation(), fusedNames, unfused, kernelName);
    }

    /**
     * Restores the float simulation on every DSConv layer, puts back the batch normalization vertices it fused and
     * releases the integer kernels.
     */
    public static void disable(Model network) {
        Network net = Network.of(network);
        if (net.isGraph()) { // fusion is graph-only (see enable)
            BatchNormFusion.unfuse(net.graph());
        }
        for (Layer l : net.dl4jLayers()) {
            if (l instanceof DSConvRuntime rt) {
                closeKernel(rt);
                rt.setInferenceKernelFactory(null);
            }
        }
    }

    /**
     * True if {@code v} is a batch normalization (or ReLU) vertex that {@link #enable} fused into the DSConv layer
     * before it: while the engine is on, it passes that layer's output on unchanged.
     */
    public static boolean isFusedVertex(org.deeplearning4j.nn.graph.vertex.GraphVertex v) {
        return v instanceof FusedLayerVertex;
    }

    /** The integer kernel of a layer, or null when it runs the float simulation. */
    public static IntegerConvKernel kernel(DSConvRuntime runtime) {
        InferenceKernel k = runtime.inferenceKernel();
        return k instanceof IntegerConvKernel ik ? ik : null;
    }

    private static void closeKernel(DSConvRuntime rt) {
        IntegerConvKernel k = kernel(rt);
        if (k != null) {
            k.close();
        }
    }
}

package io.github.dsconv.engine;

import io.github.dsconv.convert.BatchNormPattern;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvParamInitializer;
import io.github.dsconv.layers.DSConvRuntime;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Batch normalization fused into the integer engine's output pass (the usual inference-engine fusion, done so that
 * the result stays bit-identical to DL4J): a {@code BatchNormalization} vertex that is the only consumer of a DSConv
 * layer on the engine is applied by that layer's {@link IntegerConvKernel} as it writes its output
 * ({@link FusedBatchNorm}), and the BN vertex itself is replaced, while the engine is on, by a
 * {@link FusedLayerVertex} that passes the already normalised array on. A ReLU {@code ActivationLayer} that is the
 * BN's only consumer is fused the same way.
 *
 * <p>How it fits DL4J's inference loop ({@code ComputationGraph.outputOfLayersDetached}): each vertex's output lives
 * in a workspace closed once all its consumers have run, so a pass-through vertex may not return its input array
 * from another vertex's workspace. A fused layer therefore writes its output into an array of its own outside every
 * workspace (reused from call to call; {@link IntegerConvKernel#isFusedOutput}), which any vertex may return. The
 * BN layer keeps its parameters and stays in {@code getLayers()}; only the vertex array is patched, and
 * {@link #unfuse} puts the original vertices back.
 *
 * <p>Conditions, all checked (the conv -> BN -> ReLU structure is {@link BatchNormPattern}'s, shared with
 * {@code convert.BatchNormFolding}): the DSConv layer has the identity activation (BN then comes right after the
 * convolution), exactly one consumer (the BN vertex) and is not a network output; the BN vertex has no input
 * preprocessor, exactly one consumer and is not a network output (its single consumer may then change the array in
 * place, as {@code ActivationLayer} does, without another reader seeing it); the BN layer has no helper, no locked
 * gamma/beta, FLOAT parameters and the convolution's data format and channels ({@link FusedBatchNorm#of}). A ReLU
 * is fused when its layer is the BN's only consumer, has DL4J's plain {@code ActivationReLU} (no max, threshold or
 * slope), no preprocessor, exactly one consumer and is not a network output. Only
 * {@link ComputationGraph}s are fused: a {@code MultiLayerNetwork} keeps DL4J's BN.
 *
 * <p>While fused, {@code fit} and any training pass through a fused BN vertex throw (the pass-through vertex cannot
 * train); call {@link IntegerEngine#disable} first. {@code feedForward(false)} reports a fused DSConv layer's
 * activations already normalised, and those arrays are overwritten by the next inference call.
 */
final class BatchNormFusion {

    private BatchNormFusion() {
    }

    /**
     * The BN layers that can be fused, keyed by the DSConv runtime before each; {@code skipped} collects
     * "bn-name: reason" for BN vertices right after an engine layer that cannot be fused.
     *
     * @param onEngine whether a DSConv layer runs on the engine (any route)
     */
    static Map<DSConvRuntime, FusedBatchNorm> candidates(ComputationGraph cg,
                                                         Predicate<DSConvRuntime> onEngine,
                                                         List<String> skipped) {
        Map<DSConvRuntime, FusedBatchNorm> out = new LinkedHashMap<>();
        List<String> order = new ArrayList<>();
        for (GraphVertex v : cg.getVertices()) {
            order.add(v.getVertexName());
        }
        for (BatchNormPattern.Match<String> m : BatchNormPattern.find(cg.getConfiguration(), order)) {
            if (!(cg.getLayer(m.conv()) instanceof DSConvRuntime rt) || !onEngine.test(rt)
                    || !(cg.getLayer(m.batchNorm()) instanceof BatchNormalization bn)) {
                continue;
            }
            String why = reason(rt, m);
            FusedBatchNorm f = null;
            if (why == null) {
                String[] r = new String[1];
                DSConvLayer lc = rt.layerConf();
                f = FusedBatchNorm.of(bn, lc.getCnn2dDataFormat(), lc.getNOut(), r);
                why = r[0];
            }
            if (f == null) {
                skipped.add(m.batchNorm() + ": " + why);
                continue;
            }
            // The ReLU changes its input in place: only when nothing else reads that array.
            if (m.relu() != null && m.reluConsumers() == 1) {
                f = f.withRelu(m.relu());
            }
            out.put(rt, f);
        }
        return out;
    }

    private static String reason(DSConvRuntime rt, BatchNormPattern.Match<String> m) {
        if (!(rt.layerConf().getActivationFn() instanceof ActivationIdentity)) {
            return "its DSConv layer has activation " + rt.layerConf().getActivationFn();
        }
        if (rt.getParam(DSConvParamInitializer.Q_KEY).dataType() != DataType.FLOAT) {
            return "its DSConv layer is not FLOAT";
        }
        if (m.batchNormPreProcessed()) {
            return "has an input preprocessor";
        }
        if (m.batchNormOutput() || m.batchNormConsumers() != 1) {
            return "is a network output or has more than one consumer";
        }
        return null;
    }

    /**
     * Replaces the vertices of the given fused layers (BN, and ReLU if fused) by pass-through vertices; returns the
     * names of the fused layers in graph order.
     */
    static List<String> install(ComputationGraph cg, Map<DSConvRuntime, FusedBatchNorm> fused) {
        List<String> names = new ArrayList<>();
        GraphVertex[] vs = cg.getVertices();
        for (Map.Entry<DSConvRuntime, FusedBatchNorm> e : fused.entrySet()) {
            for (String name : e.getValue().layerNames()) {
                int i = cg.getVertex(name).getVertexIndex();
                vs[i] = new FusedLayerVertex(cg, (LayerVertex) vs[i], e.getKey());
                names.add(name);
            }
        }
        return names;
    }

    /** Puts back every BN vertex {@link #install} replaced (a no-op on a graph without any). */
    static void unfuse(ComputationGraph cg) {
        GraphVertex[] vs = cg.getVertices();
        for (int i = 0; i < vs.length; i++) {
            if (vs[i] instanceof FusedLayerVertex f) {
                vs[i] = f.original();
            }
        }
    }
}

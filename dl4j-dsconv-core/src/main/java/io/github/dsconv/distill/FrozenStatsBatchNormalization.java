package io.github.dsconv.distill;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.core.JsonProcessingException;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

import java.util.Collection;
import java.util.Map;

/**
 * Batch normalization that always normalizes with its stored running statistics, in training as in inference,
 * and back-propagates the matching gradient. Distillation (Hinton et al. 2015, "Distilling the Knowledge in a
 * Neural Network") of a DSConv (ICCV 2019) student uses it in place of {@link BatchNormalization} so that the
 * student is trained as exactly the function it computes at inference time:
 * <pre>
 *   y = gamma * (x - mean) / sqrt(var + eps) + beta,   dL/dx = dL/dy * gamma / sqrt(var + eps)
 * </pre>
 * with {@code dL/dgamma = sum dL/dy * xhat}, {@code dL/dbeta = sum dL/dy} and a zero gradient for the running
 * mean and variance (which therefore never change).
 *
 * <p>Why not DL4J's own layer inside {@code FrozenLayerWithBackprop}: that wrapper runs the layer forward in test
 * mode, but DL4J 1.0.0-M2.1's batch-norm backward pass always applies the training-mode formula (it subtracts the
 * per-channel mean of the gradient and its projection on {@code xhat}). That gradient is wrong for the test-mode
 * forward pass; in particular it is zero for a per-channel shift or scale feeding the batch norm, such as a conv
 * bias or the CDS parameters of a DSConv layer (with workspaces on, that combination even fails with an
 * outdated-workspace error). Parameters and JSON are those of {@link BatchNormalization}, so parameters copy one
 * to one between the two. Every option of the wrapped layer is kept.
 */
public class FrozenStatsBatchNormalization extends BatchNormalization {

    private static final long serialVersionUID = 1L;

    /** For JSON deserialization. */
    public FrozenStatsBatchNormalization() {
    }

    /** A frozen-statistics copy of a batch-norm configuration (every field copied through DL4J's JSON mapper). */
    public static FrozenStatsBatchNormalization of(BatchNormalization bn) {
        ObjectMapper m = NeuralNetConfiguration.mapper();
        ObjectNode tree = m.valueToTree(bn);
        tree.put("@class", FrozenStatsBatchNormalization.class.getName());
        try {
            return (FrozenStatsBatchNormalization) m.treeToValue(tree,
                    org.deeplearning4j.nn.conf.layers.Layer.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot copy batch norm layer '" + bn.getLayerName() + "': "
                    + e.getMessage(), e);
        }
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        LayerValidation.assertNOutSet("FrozenStatsBatchNormalization", getLayerName(), layerIndex, getNOut());
        FrozenStatsBatchNormRuntime ret = new FrozenStatsBatchNormRuntime(conf, networkDataType);
        ret.setListeners(trainingListeners);
        ret.setIndex(layerIndex);
        ret.setParamsViewArray(layerParamsView);
        Map<String, INDArray> paramTable = initializer().init(conf, layerParamsView, initializeParams);
        ret.setParamTable(paramTable);
        ret.setConf(conf);
        return ret;
    }

    @Override
    public FrozenStatsBatchNormalization clone() {
        return (FrozenStatsBatchNormalization) super.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o);
    }

    /** Keeps {@code equals} symmetric with {@link BatchNormalization}'s (Lombok) one. */
    @Override
    protected boolean canEqual(Object other) {
        return other instanceof FrozenStatsBatchNormalization;
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + 7;
    }
}

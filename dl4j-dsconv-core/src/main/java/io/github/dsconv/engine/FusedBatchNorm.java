package io.github.dsconv.engine;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A DL4J {@code BatchNormalization} layer at inference (and optionally the ReLU {@code ActivationLayer} after it),
 * applied in the integer engine's output pass of the DSConv layer before it instead of as layers of their own (see
 * {@link BatchNormFusion}).
 *
 * <p>Bit for bit what DL4J 1.0.0-M2.1 computes without a helper (the {@code linux-x86_64} ND4J classifier has no
 * oneDNN, so no BN helper loads): the per-channel {@code std = sqrt(var + eps)} (or {@code var = (10^log10std)^2}
 * first) by DL4J's own ND4J calls on the layer's current parameters, then per element four float operations in
 * DL4J's order, {@code ((x - mean) / std) * gamma + beta}, one IEEE rounding each as libnd4j's four broadcast ops
 * round them (Java never fuses or reassociates float arithmetic). {@code FusedBatchNormTest} checks this against the
 * layer itself. What it saves: DL4J's BN makes four full passes over the activations plus two detached copies
 * ({@code xHat} and {@code xMu}, kept for a backward pass that inference never runs): about 340 ms of ResNet50's
 * 1.19 s batch of 8 on the integer engine here.
 */
public final class FusedBatchNorm {

    private final BatchNormalization layer;
    private final int channels;
    /** The ReLU activation layer after the BN, also applied (null for none). */
    private final String reluLayer;

    private FusedBatchNorm(BatchNormalization layer, String reluLayer) {
        this.layer = layer;
        this.channels = Math.toIntExact(layer.layerConf().getNOut());
        this.reluLayer = reluLayer;
    }

    /**
     * This BN followed by the ReLU of {@code activationLayer}, applied as libnd4j's {@code RectifiedLinear} does
     * ({@code x < 0 ? 0 : x}: -0 and NaN pass unchanged).
     */
    FusedBatchNorm withRelu(String activationLayer) {
        return new FusedBatchNorm(layer, activationLayer);
    }

    /** The names of the fused layers: the BN, then the ReLU activation layer if any. */
    java.util.List<String> layerNames() {
        return reluLayer == null ? java.util.List.of(name()) : java.util.List.of(name(), reluLayer);
    }

    /**
     * The fusable form of {@code layer}, for a producer in format {@code format} with {@code channels} outputs.
     *
     * @return null with the reason in {@code why[0]} when DL4J would not compute it as {@link Params#apply} does
     */
    public static FusedBatchNorm of(BatchNormalization layer, CNN2DFormat format, long channels, String[] why) {
        org.deeplearning4j.nn.conf.layers.BatchNormalization c = layer.layerConf();
        String reason = null;
        if (layer.getHelper() != null) {
            reason = "runs through a " + layer.getHelper().getClass().getSimpleName();
        } else if (c.isLockGammaBeta()) {
            reason = "has locked gamma/beta";
        } else if (c.getCnn2DFormat() != format) {
            reason = "is " + c.getCnn2DFormat() + ", its input " + format;
        } else if (c.getNOut() != channels) {
            reason = "has " + c.getNOut() + " channels, its input " + channels;
        } else if (layer.getParam(BatchNormalizationParamInitializer.GAMMA).dataType() != DataType.FLOAT) {
            reason = "is not FLOAT";
        }
        if (reason != null) {
            why[0] = reason;
            return null;
        }
        return new FusedBatchNorm(layer, null);
    }

    /** The layer's name. */
    String name() {
        return layer.layerConf().getLayerName();
    }

    /**
     * Per-channel mean, std, gamma and beta from the layer's current parameters, std by DL4J's own calls
     * ({@code BatchNormalization.preOutput}, inference branch).
     */
    public Params params() {
        INDArray mean = layer.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN);
        INDArray var;
        if (layer.layerConf().isUseLogStd()) {
            INDArray log10s = layer.getParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD);
            var = Transforms.pow(Nd4j.valueArrayOf(log10s.shape(), 10.0, log10s.dataType()), log10s);
            var.muli(var);
        } else {
            var = layer.getParam(BatchNormalizationParamInitializer.GLOBAL_VAR);
        }
        INDArray std = Transforms.sqrt(var.add(layer.layerConf().getEps()));
        return new Params(floats(mean), floats(std),
                floats(layer.getParam(BatchNormalizationParamInitializer.GAMMA)),
                floats(layer.getParam(BatchNormalizationParamInitializer.BETA)), reluLayer != null);
    }

    private float[] floats(INDArray a) {
        float[] v = a.dup('c').data().asFloat();
        if (v.length != channels) {
            throw new IllegalStateException("BatchNormalization '" + name() + "': parameter of length " + v.length
                    + ", expected " + channels);
        }
        return v;
    }

    /** One call's per-channel constants, and whether a ReLU follows. */
    public record Params(float[] mean, float[] std, float[] gamma, float[] beta, boolean relu) {

        /** {@code z[from..to)} all of channel {@code c} (an NCHW run of positions). */
        public void applyRun(float[] z, int from, int to, int c) {
            float m = mean[c];
            float s = std[c];
            float g = gamma[c];
            float b = beta[c];
            if (relu) {
                for (int i = from; i < to; i++) {
                    float v = ((z[i] - m) / s) * g + b;
                    z[i] = v < 0f ? 0f : v;
                }
            } else {
                for (int i = from; i < to; i++) {
                    z[i] = ((z[i] - m) / s) * g + b;
                }
            }
        }

        /**
         * {@code rows} NHWC rows of {@code mean.length} channels from {@code z[from]}, each copied through
         * {@code row} so that every array in the loop is indexed from 0 (the JDK 17 JIT then vectorises it).
         */
        public void applyRows(float[] z, int from, int rows, float[] row) {
            int n = mean.length;
            for (int r = 0; r < rows; r++) {
                int base = from + r * n;
                System.arraycopy(z, base, row, 0, n);
                for (int c = 0; c < n; c++) {
                    row[c] = ((row[c] - mean[c]) / std[c]) * gamma[c] + beta[c];
                }
                if (relu) {
                    for (int c = 0; c < n; c++) {
                        row[c] = row[c] < 0f ? 0f : row[c];
                    }
                }
                System.arraycopy(row, 0, z, base, n);
            }
        }
    }
}

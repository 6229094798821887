package io.github.dsconv.layers;

import io.github.dsconv.quant.KernelShape;
import io.github.dsconv.quant.QuantizedKernel;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * Moves a {@link QuantizedKernel} into and out of a DSConv layer's parameter table. The float scales are
 * rounded to the layer's {@link io.github.dsconv.quant.ScalePrecision} on the way in, so that the network
 * simulates exactly what a packed file stores.
 */
public final class DSConvParams {

    private DSConvParams() {
    }

    /**
     * Reads the layer's kernel as a {@link QuantizedKernel}: {@code q}, {@code alpha} and (with the KDS shift)
     * {@code beta}; CDS is not part of it. {@code storedScales} counts every stored alpha (and beta).
     *
     * @param layer  the layer configuration
     * @param params the layer's parameter table
     */
    public static QuantizedKernel read(DSConvLayer layer, Map<String, INDArray> params) {
        INDArray qa = params.get(DSConvParamInitializer.Q_KEY);
        KernelShape shape = KernelShape.of(qa.shape());
        float[] qf = HostCopies.floats(qa);
        byte[] q = new byte[qf.length];
        for (int i = 0; i < q.length; i++) {
            q[i] = (byte) Math.round(qf[i]);
        }
        float[] alpha = HostCopies.floats(params.get(DSConvParamInitializer.ALPHA_KEY));
        float[] beta = layer.isKdsBias() ? HostCopies.floats(params.get(DSConvParamInitializer.BETA_KEY)) : null;
        return new QuantizedKernel(shape, layer.getWeightBits(), layer.getBlockSize(), q, alpha, beta,
                (long) alpha.length * (beta == null ? 1 : 2));
    }

    /**
     * Writes {@code q}, {@code alpha} and {@code beta} (and resets CDS to the identity and sets the bias).
     *
     * @param layer  the layer configuration (for the option checks)
     * @param params the layer's parameter table (views into the network's parameters)
     * @param qk     the quantized kernel; its shape, bits and block size must match the layer
     * @param bias   conv bias values {@code [nOut]}, or {@code null} to leave the bias alone
     */
    public static void write(DSConvLayer layer, Map<String, INDArray> params, QuantizedKernel qk, float[] bias) {
        String who = "DSConvLayer '" + layer.getLayerName() + "'";
        INDArray q = params.get(DSConvParamInitializer.Q_KEY);
        KernelShape shape = KernelShape.of(q.shape());
        if (!shape.equals(qk.shape())) {
            throw new IllegalArgumentException(who + ": kernel shape " + qk.shape() + " does not match layer " + shape);
        }
        if (qk.blockSize() != layer.getBlockSize()) {
            throw new IllegalArgumentException(who + ": kernel block size " + qk.blockSize() + " does not match the"
                    + " layer's " + layer.getBlockSize());
        }
        if (qk.beta() != null && !layer.isKdsBias()) {
            throw new IllegalArgumentException(who + ": kernel has a KDS bias but the layer has kdsBias=false");
        }
        HostCopies.assign(q, qk.q());
        float[] alpha = qk.alpha().clone();
        layer.getScalePrecision().roundInPlace(alpha);
        INDArray a = params.get(DSConvParamInitializer.ALPHA_KEY);
        HostCopies.assign(a, alpha);
        if (layer.isKdsBias()) {
            float[] beta = qk.beta() == null ? new float[alpha.length] : qk.beta().clone();
            layer.getScalePrecision().roundInPlace(beta);
            INDArray b = params.get(DSConvParamInitializer.BETA_KEY);
            HostCopies.assign(b, beta);
        }
        if (layer.isCds()) {
            params.get(DSConvParamInitializer.GAMMA_KEY).assign(1.0);
            params.get(DSConvParamInitializer.DELTA_KEY).assign(0.0);
        }
        if (bias != null) {
            if (!layer.hasBias()) {
                throw new IllegalArgumentException(who + ": a bias was given but the layer has hasBias=false");
            }
            INDArray b = params.get(DSConvParamInitializer.BIAS_KEY);
            if (b.length() != bias.length) {
                throw new IllegalArgumentException(who + ": bias has " + bias.length + " values, expected " + b.length());
            }
            HostCopies.assign(b, bias);
        }
    }
}

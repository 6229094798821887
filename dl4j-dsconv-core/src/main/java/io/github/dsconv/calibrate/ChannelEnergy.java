package io.github.dsconv.calibrate;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The mean square of each input channel of every convolution, {@code h_c = E[x_c^2]} over images and pixels,
 * measured on unlabelled images through the FP32 network: the per-channel error weights of an activation-aware
 * kernel fit ({@link io.github.dsconv.quant.KernelQuantizer#quantize(float[],
 * io.github.dsconv.quant.KernelShape, int, int, double[])}, {@code DSConvConverter.withChannelWeights}). A
 * channel that is always zero (after a ReLU, say) gets weight 0 and the fit stops spending precision on it.
 * Labels are never read. Not in the DSConv paper (see {@code VqkQuantizer}).
 */
public final class ChannelEnergy {

    private ChannelEnergy() {
    }

    /**
     * @param fp32     the FP32 network (not modified)
     * @param features unlabelled images {@code [n, ...]} in the network's input format
     * @param batch    forward-pass batch size
     * @return {@code E[x_c^2]} per input channel of every plain {@link ConvolutionLayer} (subclasses such as
     *         depthwise or separable are left out, as the converter leaves them), by layer name
     * @throws IllegalArgumentException if {@code features} is empty or {@code batch} is not positive
     */
    public static Map<String, double[]> of(Model fp32, INDArray features, int batch) {
        if (features == null || features.size(0) == 0) {
            throw new IllegalArgumentException("channel statistics need at least one unlabelled image");
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("batch must be positive, got " + batch);
        }
        List<String> convs = new ArrayList<>();
        Map<String, Boolean> nhwc = new LinkedHashMap<>();
        for (Layer l : NetworkLayers.of(fp32)) {
            if (l.conf().getLayer().getClass() == ConvolutionLayer.class) {
                ConvolutionLayer c = (ConvolutionLayer) l.conf().getLayer();
                convs.add(c.getLayerName());
                nhwc.put(c.getLayerName(), c.getCnn2dDataFormat() == CNN2DFormat.NHWC);
            }
        }
        Map<String, double[]> sums = new LinkedHashMap<>();
        Map<String, Long> counts = new LinkedHashMap<>();
        long n = features.size(0);
        for (long from = 0; from < n; from += batch) {
            INDArray x = features.get(NDArrayIndex.interval(from, Math.min(n, from + batch)));
            NetworkLayers.inputs(fp32, convs, x).forEach((name, in) -> {
                // Sum of squares over every axis but the channel one.
                INDArray d = in.castTo(DataType.DOUBLE);
                INDArray sq = d.mul(d); // a new array: the activation itself stays as it is
                INDArray s = nhwc.get(name) ? sq.sum(0, 1, 2) : sq.sum(0, 2, 3);
                double[] v = s.data().asDouble();
                double[] acc = sums.computeIfAbsent(name, k -> new double[v.length]);
                for (int c = 0; c < v.length; c++) {
                    acc[c] += v[c];
                }
                counts.merge(name, in.length() / v.length, Long::sum);
            });
        }
        Map<String, double[]> out = new LinkedHashMap<>();
        sums.forEach((name, acc) -> {
            double[] h = acc.clone();
            for (int c = 0; c < h.length; c++) {
                h[c] /= counts.get(name);
            }
            out.put(name, h);
        });
        return out;
    }
}

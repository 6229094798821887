package io.github.dsconv.layers;

import io.github.dsconv.quant.KernelShape;
import io.github.dsconv.quant.QuantizedKernel;
import io.github.dsconv.quant.VqkQuantizer;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parameters of a {@link DSConvLayer}, in this order in the flat parameter vector: {@code q}, {@code alpha},
 * {@code beta} (KDS bias), {@code gamma}, {@code delta} (CDS), {@code b} (bias).
 *
 * <p>A freshly initialised layer (used directly, not converted) draws a float kernel with the layer's weight
 * initialisation and quantizes it with {@link VqkQuantizer}; CDS starts at the identity ({@code gamma = 1},
 * {@code delta = 0}).
 */
public final class DSConvParamInitializer implements ParamInitializer {

    /** Integer kernel (VQK), frozen. */
    public static final String Q_KEY = "q";
    /** Per-block scale (KDS). */
    public static final String ALPHA_KEY = "alpha";
    /** Per-block shift (KDS bias). */
    public static final String BETA_KEY = "beta";
    /** Per-output-channel scale (CDS). */
    public static final String GAMMA_KEY = "gamma";
    /** Per-output-channel shift (CDS). */
    public static final String DELTA_KEY = "delta";
    /** Convolution bias, as DL4J names it. */
    public static final String BIAS_KEY = "b";

    private static final DSConvParamInitializer INSTANCE = new DSConvParamInitializer();

    private DSConvParamInitializer() {
    }

    public static DSConvParamInitializer getInstance() {
        return INSTANCE;
    }

    /** Parameter shapes in flat-vector order. */
    static Map<String, long[]> shapes(DSConvLayer l) {
        long nOut = l.getNOut();
        long nIn = l.getNIn();
        long kH = l.getKernelSize()[0];
        long kW = l.getKernelSize()[1];
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(Q_KEY, new long[] {nOut, nIn, kH, kW});
        m.put(ALPHA_KEY, new long[] {nOut, l.nBlocks(), kH, kW});
        if (l.isKdsBias()) {
            m.put(BETA_KEY, new long[] {nOut, l.nBlocks(), kH, kW});
        }
        if (l.isCds()) {
            m.put(GAMMA_KEY, new long[] {nOut});
            m.put(DELTA_KEY, new long[] {nOut});
        }
        if (l.hasBias()) {
            m.put(BIAS_KEY, new long[] {nOut});
        }
        return m;
    }

    @Override
    public long numParams(NeuralNetConfiguration conf) {
        return numParams(conf.getLayer());
    }

    @Override
    public long numParams(Layer layer) {
        long n = 0;
        for (long[] s : shapes((DSConvLayer) layer).values()) {
            long len = 1;
            for (long d : s) {
                len *= d;
            }
            n += len;
        }
        return n;
    }

    @Override
    public List<String> paramKeys(Layer layer) {
        return new ArrayList<>(shapes((DSConvLayer) layer).keySet());
    }

    @Override
    public List<String> weightKeys(Layer layer) {
        List<String> keys = paramKeys(layer);
        keys.remove(BIAS_KEY);
        return keys;
    }

    @Override
    public List<String> biasKeys(Layer layer) {
        return ((DSConvLayer) layer).hasBias() ? List.of(BIAS_KEY) : Collections.emptyList();
    }

    /** Only used by DL4J for default regularization; DSConv overrides that per parameter. */
    @Override
    public boolean isWeightParam(Layer layer, String key) {
        return !BIAS_KEY.equals(key);
    }

    @Override
    public boolean isBiasParam(Layer layer, String key) {
        return BIAS_KEY.equals(key);
    }

    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        DSConvLayer l = (DSConvLayer) conf.getLayer();
        Map<String, INDArray> params = split(l, paramsView);
        for (String k : params.keySet()) {
            conf.addVariable(k);
        }
        if (initializeParams) {
            initialize(l, params);
        }
        return Collections.synchronizedMap(params);
    }

    @Override
    public Map<String, INDArray> getGradientsFromFlattened(NeuralNetConfiguration conf, INDArray gradientView) {
        return split((DSConvLayer) conf.getLayer(), gradientView);
    }

    /** Views of each parameter in a flat vector laid out as this initializer lays it out. */
    public static Map<String, INDArray> views(DSConvLayer l, INDArray flat) {
        return split(l, flat);
    }

    private static Map<String, INDArray> split(DSConvLayer l, INDArray view) {
        INDArray flat = view.reshape(view.length());
        Map<String, INDArray> m = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, long[]> e : shapes(l).entrySet()) {
            long len = 1;
            for (long d : e.getValue()) {
                len *= d;
            }
            m.put(e.getKey(), flat.get(NDArrayIndex.interval(offset, offset + len)).reshape('c', e.getValue()));
            offset += len;
        }
        if (offset != view.length()) {
            throw new IllegalStateException("DSConvLayer '" + l.getLayerName() + "': parameter view has "
                    + view.length() + " values, expected " + offset);
        }
        return m;
    }

    private static void initialize(DSConvLayer l, Map<String, INDArray> params) {
        INDArray q = params.get(Q_KEY);
        long[] shape = q.shape();
        double fanIn = shape[1] * shape[2] * shape[3];
        double fanOut = shape[0] * shape[2] * shape[3] / ((double) l.getStride()[0] * l.getStride()[1]);
        INDArray w = Nd4j.createUninitialized(q.dataType(), shape, 'c');
        if (l.getWeightInitFn() != null) {
            l.getWeightInitFn().init(fanIn, fanOut, shape, 'c', w);
        } else {
            WeightInit.XAVIER.getWeightInitFunction().init(fanIn, fanOut, shape, 'c', w);
        }
        KernelShape ks = KernelShape.of(shape);
        QuantizedKernel qk = new VqkQuantizer(l.isKdsBias(), false)
                .quantize(w.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).data().asFloat(), ks,
                        l.getWeightBits(), l.getBlockSize());
        DSConvParams.write(l, params, qk, null);
        if (l.hasBias()) {
            params.get(BIAS_KEY).assign(l.getBiasInit());
        }
    }
}

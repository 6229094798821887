package io.github.dsconv.it;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.eval.Networks;
import io.github.dsconv.examples.ImportKerasModel;
import io.github.dsconv.layers.DSConvLayer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static io.github.dsconv.it.KerasFixtures.C;
import static io.github.dsconv.it.KerasFixtures.CLASSES;
import static io.github.dsconv.it.KerasFixtures.F1;
import static io.github.dsconv.it.KerasFixtures.F2;
import static io.github.dsconv.it.KerasFixtures.H;
import static io.github.dsconv.it.KerasFixtures.W;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Keras import on real {@code .h5} files written by {@link KerasH5}: the weights land where Keras' layout says,
 * the imported network computes what an independent forward pass computes, and the converter replaces every
 * convolution of the imported NHWC networks at W8 and W4 with stated output tolerances.
 */
class KerasImportTest {

    @TempDir
    static Path dir;

    static KerasFixtures seq;
    static KerasFixtures fun;
    static Path seqH5;
    static Path funH5;
    /** Eight NHWC inputs, as Java arrays and as {@code [8, 6, 6, 3]}. */
    static float[][][][] x;
    static INDArray xNd;

    @BeforeAll
    static void writeFixtures() {
        seq = new KerasFixtures(7, false);
        fun = new KerasFixtures(7, true);
        seqH5 = seq.write(dir.resolve("sequential.h5"));
        funH5 = fun.write(dir.resolve("functional.h5"));
        x = inputs(8, 3);
        xNd = toNd(x);
    }

    static float[][][][] inputs(int n, long seed) {
        Random r = new Random(seed);
        float[][][][] a = new float[n][H][W][C];
        for (float[][][] img : a) {
            for (float[][] row : img) {
                for (float[] px : row) {
                    for (int c = 0; c < C; c++) {
                        px[c] = (float) r.nextGaussian();
                    }
                }
            }
        }
        return a;
    }

    static INDArray toNd(float[][][][] a) {
        return Nd4j.create(KerasFixtures.flat(a), new long[] {a.length, H, W, C}, 'c');
    }

    /** Largest absolute difference between DL4J's output and the reference, over all entries. */
    static double maxAbsDiff(INDArray out, double[][] ref) {
        assertEquals(List.of((long) ref.length, (long) ref[0].length), List.of(out.shape()[0], out.shape()[1]));
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            for (int j = 0; j < ref[0].length; j++) {
                worst = Math.max(worst, Math.abs(out.getDouble(i, j) - ref[i][j]));
            }
        }
        return worst;
    }

    static double relErr(INDArray a, INDArray ref) {
        return a.sub(ref).norm2Number().doubleValue() / ref.norm2Number().doubleValue();
    }

    /** Keras {@code [kh][kw][in][out]} kernels must arrive as DL4J {@code [out, in, kh, kw]}, value for value. */
    static void assertKernel(float[][][][] keras, INDArray w, String name) {
        int cin = keras[0][0].length;
        int cout = keras[0][0][0].length;
        assertEquals(List.of((long) cout, (long) cin, 3L, 3L), List.of(w.shape()[0], w.shape()[1], w.shape()[2],
                w.shape()[3]), name);
        for (int o = 0; o < cout; o++) {
            for (int i = 0; i < cin; i++) {
                for (int ky = 0; ky < 3; ky++) {
                    for (int kx = 0; kx < 3; kx++) {
                        float expected = keras[ky][kx][i][o];
                        float actual = w.getFloat(o, i, ky, kx);
                        if (expected != actual) {
                            throw new AssertionError(name + "[" + o + "," + i + "," + ky + "," + kx + "] = " + actual
                                    + ", Keras kernel[" + ky + "][" + kx + "][" + i + "][" + o + "] = " + expected);
                        }
                    }
                }
            }
        }
    }

    static void assertVector(float[] expected, INDArray actual, String name) {
        assertEquals(expected.length, actual.length(), name);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual.getFloat(i), 0f, name + "[" + i + "]");
        }
    }

    /** The parameters of one layer by name, for either kind of network. */
    static INDArray param(Model m, String layer, String p) {
        return m instanceof MultiLayerNetwork mln ? mln.getLayer(layer).getParam(p)
                : ((ComputationGraph) m).getLayer(layer).getParam(p);
    }

    static void assertKerasWeightsInPlace(Model m, KerasFixtures f) {
        INDArray w1 = param(m, "conv2d", "W");
        assertKernel(f.k1, w1, "conv2d");
        // One value spelled out: output channel 5, input channel 2, top row, right column.
        assertEquals(f.k1[0][2][2][5], w1.getFloat(5, 2, 0, 2), 0f);
        assertVector(f.b1, param(m, "conv2d", "b"), "conv2d bias");
        assertVector(f.gamma, param(m, "batch_normalization", "gamma"), "gamma");
        assertVector(f.beta, param(m, "batch_normalization", "beta"), "beta");
        assertVector(f.mean, param(m, "batch_normalization", "mean"), "moving_mean");
        assertVector(f.var, param(m, "batch_normalization", "var"), "moving_variance");
        assertKernel(f.k2, param(m, "conv2d_1", "W"), "conv2d_1");
        assertVector(f.b2, param(m, "conv2d_1", "b"), "conv2d_1 bias");
        INDArray wd = param(m, "dense", "W");
        assertEquals(List.of((long) F2, (long) CLASSES), List.of(wd.shape()[0], wd.shape()[1]));
        for (int i = 0; i < F2; i++) {
            for (int o = 0; o < CLASSES; o++) {
                assertEquals(f.kd[i][o], wd.getFloat(i, o), 0f, "dense W[" + i + "," + o + "]");
            }
        }
        assertVector(f.bd, param(m, "dense", "b"), "dense bias");
    }

    @Test
    void sequentialImportsAsAnNhwcMultiLayerNetworkWithTheKerasWeightsInPlace() throws IOException {
        MultiLayerNetwork mln = assertInstanceOf(MultiLayerNetwork.class, ImportKerasModel.importModel(seqH5));
        assertEquals(6, mln.getnLayers());
        for (String conv : List.of("conv2d", "conv2d_1")) {
            ConvolutionLayer c = assertInstanceOf(ConvolutionLayer.class, mln.getLayer(conv).conf().getLayer());
            assertEquals(CNN2DFormat.NHWC, c.getCnn2dDataFormat(), conv);
        }
        assertEquals(3 * 3 * C * F1 + F1 + 4 * F1 + 3 * 3 * F1 * F2 + F2 + F2 * CLASSES + CLASSES, mln.numParams());
        assertKerasWeightsInPlace(mln, seq);
        // Measured max |difference| of the softmax outputs 8.7e-8 (float32 against double); bound 1e-5.
        double d = maxAbsDiff(mln.output(xNd), seq.forward(x));
        System.out.println("Sequential import vs independent forward: max abs diff " + d);
        assertTrue(d < 1e-5, "imported Sequential output differs from the reference by " + d);
    }

    @Test
    void functionalImportsAsAnNhwcGraphWithTheResidualAdd() throws IOException {
        ComputationGraph cg = assertInstanceOf(ComputationGraph.class, ImportKerasModel.importModel(funH5));
        assertInstanceOf(ElementWiseVertex.class, cg.getConfiguration().getVertices().get("add"));
        assertEquals(List.of("conv2d_1", "activation"), cg.getConfiguration().getVertexInputs().get("add"));
        assertEquals(CNN2DFormat.NHWC,
                ((ConvolutionLayer) cg.getLayer("conv2d").conf().getLayer()).getCnn2dDataFormat());
        assertKerasWeightsInPlace(cg, fun);
        double d = maxAbsDiff(cg.outputSingle(xNd), fun.forward(x));
        System.out.println("Functional import vs independent forward: max abs diff " + d);
        assertTrue(d < 1e-5, "imported Functional output differs from the reference by " + d);
        // The residual matters: without it the reference gives a different answer.
        assertTrue(maxAbsDiff(cg.outputSingle(xNd), seq.forward(x)) > 1e-3);
    }

    /**
     * Bounds are on the relative L2 error of the softmax outputs against the imported FP32 network, 8 inputs.
     * Measured: W8 8.9e-4 (Sequential) and 1.9e-3 (Functional); W4 4.2e-2 and 1.75e-1. The kernels are random,
     * not trained (kernel SQNR at W4: 28.1 dB and 24.1 dB), and the Functional model's outputs are far less
     * saturated (top probability 0.33-0.98 against 0.85-0.999), so the same kernel noise moves them more.
     */
    @ParameterizedTest(name = "{0} W{1}")
    @CsvSource({"sequential, 8, 0.005", "functional, 8, 0.005", "sequential, 4, 0.08", "functional, 4, 0.25"})
    void theConverterReplacesEveryConvolutionOfTheImportedNetwork(String kind, int bits, double bound)
            throws IOException {
        boolean functional = kind.equals("functional");
        Model fp32 = ImportKerasModel.importModel(functional ? funH5 : seqH5);
        Converted<? extends Model> c = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(bits, 8, 32)))
                .convert(fp32);
        assertEquals(List.of("conv2d", "conv2d_1"), c.report().converted().stream().map(LayerReport::name).toList());
        assertEquals(List.of(), c.report().skipped());
        for (String conv : List.of("conv2d", "conv2d_1")) {
            org.deeplearning4j.nn.api.Layer l = c.network() instanceof MultiLayerNetwork mln ? mln.getLayer(conv)
                    : ((ComputationGraph) c.network()).getLayer(conv);
            DSConvLayer ds = assertInstanceOf(DSConvLayer.class, l.conf().getLayer());
            assertEquals(CNN2DFormat.NHWC, ds.getCnn2dDataFormat(), conv);
            assertEquals(bits, ds.getWeightBits(), conv);
        }
        INDArray ref = Networks.output(fp32, xNd).castTo(DataType.DOUBLE);
        INDArray out = Networks.output(c.network(), xNd).castTo(DataType.DOUBLE);
        double err = relErr(out, ref);
        double agreement = ref.argMax(1).eq(out.argMax(1)).castTo(DataType.DOUBLE).meanNumber().doubleValue();
        System.out.printf("Keras %s W%dA8: relative output error %.2e, top-1 agreement %.3f%n", kind, bits, err,
                agreement);
        assertTrue(err < bound, kind + " W" + bits + " relative error " + err + " (bound " + bound + ")");
        if (bits == 8) {
            assertEquals(1.0, agreement, kind + " W8 top-1 agreement");
        }
    }
}

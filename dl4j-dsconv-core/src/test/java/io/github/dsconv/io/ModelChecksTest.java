package io.github.dsconv.io;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.distill.DistillConfig;
import io.github.dsconv.distill.Distiller;
import io.github.dsconv.layers.DSConvParamInitializer;
import io.github.dsconv.ptq.PostTrainingQuantizer;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Non-finite parameters and models of the wrong kind are refused with one line naming where they are. */
class ModelChecksTest {

    @TempDir
    Path tmp;

    private static Model dsconv(Model fp32) {
        return new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32)).withMinCompression(0))
                .convert(fp32).network();
    }

    /** Two dense layers, no convolution. */
    private static MultiLayerNetwork denseOnly() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new DenseLayer.Builder().nIn(6).nOut(5).name("fc1").activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(5).nOut(3).name("out")
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        return net;
    }

    @Test
    void finiteModelsOfBothKindsPass() {
        ModelChecks.requireFinite(TinyNets.mln(1, CNN2DFormat.NCHW), "m.zip");
        ComputationGraph cg = TinyNets.residualGraph(2, CNN2DFormat.NCHW);
        ModelChecks.requireFinite(cg, "g.zip");
        ModelChecks.requireFinite(dsconv(cg), "q.zip");
    }

    @Test
    void aNanInABatchNormGammaIsNamedWithItsIndex() {
        MultiLayerNetwork mln = TinyNets.mln(1, CNN2DFormat.NCHW);
        mln.getLayer("bn1").getParam("gamma").putScalar(3, Float.NaN);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelChecks.requireFinite(mln, "m.zip"));
        assertEquals("m.zip: layer 'bn1' parameter 'gamma' has 1 non-finite value (NaN at [3])", e.getMessage());
    }

    @Test
    void anInfInADenseBiasOfAGraphIsNamedAndCounted() {
        ComputationGraph cg = TinyNets.residualGraph(2, CNN2DFormat.NHWC);
        INDArray b = cg.getLayer("out").getParam("b");
        b.putScalar(1, Float.POSITIVE_INFINITY);
        b.putScalar(2, Float.NEGATIVE_INFINITY);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelChecks.requireFinite(cg, "g.zip"));
        assertEquals("g.zip: layer 'out' parameter 'b' has 2 non-finite values (+Inf at [1])", e.getMessage());
    }

    @Test
    void aNanInADsconvScaleIsNamedAndOtherBadParametersCounted() {
        ComputationGraph q = (ComputationGraph) dsconv(TinyNets.residualGraph(2, CNN2DFormat.NCHW));
        INDArray alpha = q.getLayer("b1a").getParam(DSConvParamInitializer.ALPHA_KEY);
        alpha.putScalar(alpha.length() - 1, Float.NaN);
        q.getLayer("b2a").getParam(DSConvParamInitializer.Q_KEY).putScalar(0, Float.NaN);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelChecks.requireFinite(q, "q.dsconv.zip"));
        assertTrue(e.getMessage().startsWith("q.dsconv.zip: layer 'b1a' parameter 'alpha' has 1 non-finite value "
                + "(NaN at ["), e.getMessage());
        assertTrue(e.getMessage().endsWith(", and 1 other parameter hold non-finite values too"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void aDoubleNetworkIsScannedInDouble() {
        MultiLayerNetwork mln = TinyNets.mln(1, CNN2DFormat.NCHW);
        MultiLayerNetwork d = mln.convertDataType(DataType.DOUBLE);
        d.getLayer("c2").getParam("W").putScalar(new long[] {1, 2, 0, 1}, Double.NaN);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelChecks.requireFinite(d, "d.zip"));
        assertEquals("d.zip: layer 'c2' parameter 'W' has 1 non-finite value (NaN at [1, 2, 0, 1])", e.getMessage());
    }

    @Test
    void unravelGivesTheCOrderIndex() {
        assertArrayEquals(new long[] {1, 2, 0, 1}, ModelChecks.unravel(((1 * 40 + 2) * 3 + 0) * 3 + 1,
                new long[] {36, 40, 3, 3}));
        assertArrayEquals(new long[] {7}, ModelChecks.unravel(7, new long[] {9}));
    }

    /**
     * A ResNet-50-sized parameter vector (25.6M) costs one reduction when finite. Measured about 10 ms here; the
     * bound leaves room for a loaded machine.
     */
    @Test
    void checkingTwentyFiveMillionParametersIsFast() {
        MultiLayerNetwork big = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new DenseLayer.Builder().nIn(5000).nOut(5120).name("fc").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(5120).nOut(2).name("out")
                        .activation(Activation.IDENTITY).build())
                .build());
        big.init();
        assertTrue(big.numParams() > 25_600_000L);
        ModelChecks.requireFinite(big, "warm-up");
        long t0 = System.nanoTime();
        ModelChecks.requireFinite(big, "big.zip");
        double ms = (System.nanoTime() - t0) / 1e6;
        System.out.printf("requireFinite on %d parameters: %.1f ms%n", big.numParams(), ms);
        assertTrue(ms < 1000, "took " + ms + " ms");
        big.getLayer("fc").getParam("W").putScalar(new long[] {4999, 5119}, Float.NaN);
        t0 = System.nanoTime();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelChecks.requireFinite(big, "big.zip"));
        System.out.printf("requireFinite finding one NaN among %d parameters: %.1f ms%n", big.numParams(),
                (System.nanoTime() - t0) / 1e6);
        assertEquals("big.zip: layer 'fc' parameter 'W' has 1 non-finite value (NaN at [4999, 5119])",
                e.getMessage());
    }

    @Test
    void loadingAFileWithANanFailsNamingTheFileForBothFormats() throws IOException {
        MultiLayerNetwork mln = TinyNets.mln(1, CNN2DFormat.NCHW);
        mln.getLayer("bn1").getParam("gamma").putScalar(3, Float.NaN);
        Path zip = tmp.resolve("m.zip");
        ModelFiles.save(mln, zip, false);
        IOException e = assertThrows(IOException.class, () -> ModelFiles.load(zip));
        assertEquals(zip + ": layer 'bn1' parameter 'gamma' has 1 non-finite value (NaN at [3])", e.getMessage());

        ComputationGraph q = (ComputationGraph) dsconv(TinyNets.residualGraph(2, CNN2DFormat.NCHW));
        Path packed = tmp.resolve("q.dsconv.zip");
        q.getLayer("stem_bn").getParam("beta").putScalar(0, Float.NEGATIVE_INFINITY);
        ModelFiles.save(q, packed, false);
        assertTrue(Files.isRegularFile(packed));
        e = assertThrows(IOException.class, () -> ModelFiles.load(packed));
        assertTrue(e.getMessage().startsWith(packed + ": layer 'stem_bn' parameter 'beta' has 1 non-finite value "
                + "(-Inf at [0])"), e.getMessage());
    }

    @Test
    void kindCountsDsconvLayersAndConvolutions() {
        ComputationGraph cg = TinyNets.residualGraph(2, CNN2DFormat.NCHW);
        ModelChecks.Kind fp32 = ModelChecks.kind(cg);
        assertEquals(new ModelChecks.Kind(0, 5, 0, 9), fp32);
        assertFalse(fp32.isDsconv());
        assertEquals("an FP32 model with 5 convolutions", fp32.describe());
        ModelChecks.Kind q = ModelChecks.kind(dsconv(cg));
        assertEquals(new ModelChecks.Kind(5, 0, 0, 9), q);
        assertEquals("5 DSConv layers", q.describe());
        assertEquals(new ModelChecks.Kind(0, 0, 0, 2), ModelChecks.kind(denseOnly()));
    }

    @Test
    void theConverterRefusesADsconvModelAndAModelWithoutConvolutions() {
        Model q = dsconv(TinyNets.mln(1, CNN2DFormat.NCHW));
        DSConvConverter c = new DSConvConverter(ConversionPlan.standard());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.convert(q));
        assertEquals("model: already a DSConv model (2 DSConv layers); quantize needs the FP32 model it came from",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.convert(denseOnly()));
        assertEquals("model: no convolution to convert (none of its 2 layers is a ConvolutionLayer)", e.getMessage());
        MultiLayerNetwork nan = TinyNets.mln(1, CNN2DFormat.NCHW);
        nan.getLayer("c1").getParam("W").putScalar(0, Float.NaN);
        e = assertThrows(IllegalArgumentException.class, () -> c.convert(nan));
        assertTrue(e.getMessage().startsWith("model: layer 'c1' parameter 'W' has 1 non-finite value (NaN at [0, 0, "
                + "0, 0])"), e.getMessage());
    }

    @Test
    void postTrainingQuantizationRefusesBeforeReadingData() {
        Model q = dsconv(TinyNets.residualGraph(2, CNN2DFormat.NCHW));
        // The calibration array does not fit the network: had the quantizer started, it would fail differently.
        PostTrainingQuantizer ptq = PostTrainingQuantizer.builder().calibrationData(TinyNets.random(1,
                DataType.FLOAT, 4, 1, 2, 2)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ptq.quantize(q));
        assertTrue(e.getMessage().startsWith("model: already a DSConv model (5 DSConv layers)"), e.getMessage());
    }

    @Test
    void distillationNeedsAnFp32TeacherAndADsconvStudent() {
        ComputationGraph fp32 = TinyNets.residualGraph(2, CNN2DFormat.NCHW);
        Model q = dsconv(fp32);
        INDArray images = TinyNets.random(3, DataType.FLOAT, 8, 3, 8, 8);
        Distiller d = new Distiller(DistillConfig.defaults());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.distill(fp32, fp32, images));
        assertEquals("student: not a DSConv model (an FP32 model with 5 convolutions); the student must be the "
                + "DSConv conversion of the teacher", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> d.distill(q, q, images));
        assertEquals("teacher: already a DSConv model (5 DSConv layers); the teacher must be the FP32 model",
                e.getMessage());
        ComputationGraph nan = fp32.clone();
        nan.getLayer("stem_bn").getParam("mean").putScalar(0, Float.NaN);
        e = assertThrows(IllegalArgumentException.class, () -> d.distill(nan, q, images));
        assertEquals("teacher: layer 'stem_bn' parameter 'mean' has 1 non-finite value (NaN at [0])",
                e.getMessage());
    }
}

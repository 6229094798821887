package io.github.dsconv.it;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.zoo.small.SmallModels;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.github.dsconv.it.CliTest.assertFailed;
import static io.github.dsconv.it.CliTest.cli;

/**
 * Models are checked on load and for their kind: a NaN parameter, re-quantizing a DSConv model, converting a model
 * without convolutions and distilling into an FP32 "student" each fail with one line naming the file and write
 * nothing.
 */
class ModelChecksCliTest {

    @TempDir
    static Path shared;

    /** The untrained ResNet (11 convolutions) and its W4 conversion, as a packed file and as a plain zip. */
    static Path fp32;
    static Path packed;
    static Path converted;

    @TempDir
    Path tmp;

    @BeforeAll
    static void saveModels() throws IOException {
        ComputationGraph net = SmallModels.resnet(1, 1);
        fp32 = shared.resolve("resnet.zip");
        ModelFiles.save(net, fp32, false);
        Model q = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32))).convert(net).network();
        packed = shared.resolve("w4.dsconv.zip");
        converted = shared.resolve("w4.zip");
        ModelFiles.save(q, packed, false);
        ModelFiles.save(q, converted, false);
    }

    @Test
    void quantizeRefusesANanInABatchNormGammaAndWritesNothing() throws IOException {
        ComputationGraph net = SmallModels.resnet(1, 1);
        net.getLayer("s2b1a_bn").getParam("gamma").putScalar(3, Float.NaN);
        Path in = tmp.resolve("nan.zip");
        ModelFiles.save(net, in, false);
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("quantize", "--in", in, "--out", out.resolve("q.dsconv.zip"), "--json",
                out.resolve("q.json")), out, in + ": layer 's2b1a_bn' parameter 'gamma' has 1 non-finite value "
                + "(NaN at [3])");
        // Every command loads through the same check.
        assertFailed(cli("inspect", "--model", in, "--json", out.resolve("i.json")), out, in.toString(),
                "'s2b1a_bn'", "'gamma'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"packed", "zip"})
    void quantizeRefusesADsconvModelAndWritesNothing(String kind) throws IOException {
        Path in = kind.equals("packed") ? packed : converted;
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("quantize", "--in", in, "--out", out.resolve("x.dsconv.zip"), "--weight-bits", 2,
                "--json", out.resolve("x.json")), out, in + ": already a DSConv model (11 DSConv layers); quantize "
                + "needs the FP32 model it came from");
    }

    @Test
    void quantizeRefusesAModelWithoutConvolutions() throws IOException {
        MultiLayerNetwork dense = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1).list()
                .layer(new DenseLayer.Builder().nIn(784).nOut(16).name("fc1").activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(10).name("out")
                        .activation(Activation.SOFTMAX).build())
                .build());
        dense.init();
        Path in = tmp.resolve("dense.zip");
        ModelFiles.save(dense, in, false);
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("quantize", "--in", in, "--out", out.resolve("x.dsconv.zip")), out,
                in + ": no convolution to convert");
    }

    @Test
    void distillRefusesAnFp32StudentAndADsconvTeacher() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("distill", "--teacher", fp32, "--student", fp32, "--data", "fashion-mnist", "--limit", 100,
                "--out", out.resolve("d.zip")), out, fp32 + ": not a DSConv model (an FP32 model with 11 "
                + "convolutions); distill --student needs");
        assertFailed(cli("distill", "--teacher", packed, "--student", packed, "--data", "fashion-mnist", "--limit",
                100, "--out", out.resolve("d.zip")), out, packed + ": already a DSConv model (11 DSConv layers); "
                + "distill --teacher needs the FP32 model");
    }

    @Test
    void sensitivityRefusesADsconvModel() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("sensitivity", "--model", converted, "--limit", 10, "--json", out.resolve("s.json")), out,
                converted + ": already a DSConv model (11 DSConv layers); sensitivity needs the FP32 model");
    }
}

package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.eval.Networks;
import io.github.dsconv.examples.ImportKerasModel;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.layers.DSConvLayer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.github.dsconv.it.CliTest.assertFailed;
import static io.github.dsconv.it.CliTest.cli;
import static io.github.dsconv.it.CliTest.fileNames;
import static io.github.dsconv.it.CliTest.ok;
import static io.github.dsconv.it.CliTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code dsconv import-keras} end to end: import, quantize, run the result; and every bad input. */
class KerasCliTest {

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} W{1}")
    @CsvSource({"sequential, 8, MultiLayerNetwork, Sequential", "functional, 4, ComputationGraph, Functional"})
    void importThenQuantizeThenInfer(String variant, int bits, String kind, String kerasClass) throws IOException {
        KerasFixtures f = new KerasFixtures(7, variant.equals("functional"));
        Path h5 = f.write(tmp.resolve(variant + ".h5"));
        Path dir = Files.createDirectories(tmp.resolve("out"));
        Path imported = dir.resolve("keras.zip");
        ok("import-keras", "--h5", h5, "--out", imported, "--json", dir.resolve("import.json"));

        JsonNode j = readJson(dir.resolve("import.json"));
        assertEquals(h5.toString(), j.get("h5").asText());
        assertEquals(imported.toString(), j.get("out").asText());
        assertEquals(kind, j.get("kind").asText());
        assertEquals(kerasClass, j.get("kerasClass").asText());
        assertEquals(6, j.get("layers").asInt());
        assertEquals(2, j.get("convLayers").asInt());
        assertEquals(0, j.get("otherConvLayers").asInt());
        assertEquals(867, j.get("params").asLong());
        assertEquals("NHWC", j.get("dataFormat").asText());
        JsonNode prov = readJson(dir.resolve("keras.zip.provenance.json"));
        assertEquals(h5.toString(), prov.get("source").asText());
        assertEquals(kind, prov.get("result").get("kind").asText());
        assertEquals(Set.of("keras.zip", "keras.zip.provenance.json", "import.json"), fileNames(dir));

        float[][][][] x = KerasImportTest.inputs(8, 5);
        INDArray xNd = KerasImportTest.toNd(x);
        double[][] reference = f.forward(x);
        Model fp32 = ModelFiles.load(imported);
        assertEquals(kind, fp32.getClass().getSimpleName());
        double d = KerasImportTest.maxAbsDiff(Networks.output(fp32, xNd), reference);
        assertTrue(d < 1e-5, "the saved import differs from the reference forward pass by " + d);

        Path q = dir.resolve("q.zip");
        // --min-compression 0: the fixture's 3-channel stem would otherwise stay FP32 (the library's default).
        ok("quantize", "--in", imported, "--out", q, "--weight-bits", bits, "--act-bits", 8, "--block", 32,
                "--min-compression", 0, "--json", dir.resolve("q.json"));
        JsonNode qj = readJson(dir.resolve("q.json"));
        assertEquals(2, qj.get("convLayers").asInt());
        assertEquals(2, qj.get("replaced").asInt());

        Model ds = ModelFiles.load(q);
        for (String conv : new String[] {"conv2d", "conv2d_1"}) {
            org.deeplearning4j.nn.api.Layer l = ds instanceof MultiLayerNetwork mln ? mln.getLayer(conv)
                    : ((ComputationGraph) ds).getLayer(conv);
            assertEquals(bits, assertInstanceOf(DSConvLayer.class, l.conf().getLayer()).getWeightBits(), conv);
        }
        // The file holds exactly what the converter computes in memory from the imported model.
        INDArray fromFile = Networks.output(ds, xNd);
        Model inMemory = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(bits, 8, 32)))
                .convert(ImportKerasModel.importModel(h5)).network();
        assertEquals(Networks.output(inMemory, xNd), fromFile);
        double err = KerasImportTest.relErr(fromFile, Networks.output(fp32, xNd));
        System.out.printf("CLI %s W%dA8 relative output error %.2e%n", variant, bits, err);
        // Same bounds as KerasImportTest (other inputs): W8 0.5%, W4 on the Functional model 25%.
        assertTrue(err < (bits == 8 ? 0.005 : 0.25), "relative error " + err);
    }

    @Test
    void aMissingFileIsAOneLineErrorAndWritesNothing() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Path missing = tmp.resolve("nope.h5");
        assertFailed(cli("import-keras", "--h5", missing, "--out", out.resolve("m.zip"), "--json",
                out.resolve("m.json")), out, "--h5", "does not exist", missing.toString());
    }

    @Test
    void aFileThatIsNotHdf5IsRejectedBeforeDl4jSeesIt() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Path text = Files.writeString(tmp.resolve("model.h5"), "{\"class_name\": \"Sequential\"}\n");
        assertFailed(cli("import-keras", "--h5", text, "--out", out.resolve("m.zip"), "--json",
                out.resolve("m.json")), out, text.toString(), "not an HDF5 file");
        // A ModelSerializer zip given by mistake.
        Path zip = tmp.resolve("dl4j.zip");
        ModelFiles.save(ImportKerasModel.importModel(new KerasFixtures(1, false).write(tmp.resolve("s.h5"))), zip,
                false);
        assertFailed(cli("import-keras", "--h5", zip, "--out", out.resolve("m.zip")), out, zip.toString(),
                "not an HDF5 file");
    }

    @Test
    void aTruncatedHdf5FileIsAOneLineError() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        byte[] whole = Files.readAllBytes(new KerasFixtures(2, false).write(tmp.resolve("whole.h5")));
        Path cut = Files.write(tmp.resolve("cut.h5"), Arrays.copyOf(whole, 3000));
        assertFailed(cli("import-keras", "--h5", cut, "--out", out.resolve("m.zip")), out, cut.toString(),
                "unreadable HDF5 file");
    }

    @Test
    void aWeightsOnlyFileSaysWhatIsMissing() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        KerasFixtures f = new KerasFixtures(3, false);
        Path weightsOnly = tmp.resolve("weights.h5");
        KerasH5.write(weightsOnly, "2.4.0", null, f.weights());
        assertFailed(cli("import-keras", "--h5", weightsOnly, "--out", out.resolve("m.zip")), out,
                weightsOnly.toString(), "no model_config");
    }

    @Test
    void anUnsupportedKerasLayerIsNamed() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        KerasFixtures f = new KerasFixtures(4, true);
        // Keras' Rescaling preprocessing layer has no DL4J mapping in M2.1.
        String config = f.modelConfig().replace("\"class_name\":\"Activation\"", "\"class_name\":\"Rescaling\"");
        assertTrue(config.contains("Rescaling"));
        Path h5 = tmp.resolve("rescaling.h5");
        KerasH5.write(h5, "2.4.0", config, f.weights());
        assertFailed(cli("import-keras", "--h5", h5, "--out", out.resolve("m.zip"), "--json", out.resolve("m.json")),
                out, h5.toString(), "not supported", "Rescaling");
    }

    @Test
    void anUnknownModelClassIsNamed() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        KerasFixtures f = new KerasFixtures(5, false);
        String config = f.modelConfig().replace("\"class_name\":\"Sequential\"", "\"class_name\":\"MyModel\"");
        Path h5 = tmp.resolve("custom.h5");
        KerasH5.write(h5, "2.4.0", config, f.weights());
        assertFailed(cli("import-keras", "--h5", h5, "--out", out.resolve("m.zip")), out, h5.toString(),
                "'MyModel'");
    }

    /**
     * DL4J's import copies a weight without comparing shapes: a 3x3x8x4 kernel where the configuration says 8
     * filters used to import "successfully" with 4 output channels left at DL4J's random initialisation.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sequential", "functional"})
    void aKernelWhoseShapeDisagreesWithItsConfigurationIsRefused(String variant) throws IOException {
        KerasFixtures f = new KerasFixtures(6, variant.equals("functional"));
        Map<String, List<KerasH5.Weight>> weights = new LinkedHashMap<>(f.weights());
        float[] short4 = new float[3 * 3 * KerasFixtures.F1 * 4];
        Arrays.fill(short4, 0.1f);
        weights.put("conv2d_1", List.of(new KerasH5.Weight("conv2d_1/kernel:0", new long[] {3, 3, KerasFixtures.F1, 4},
                short4), weights.get("conv2d_1").get(1)));
        Path h5 = tmp.resolve(variant + "-short-kernel.h5");
        KerasH5.write(h5, "2.4.0", f.modelConfig(), weights);
        String expected = h5 + ": layer 'conv2d_1' weight 'kernel' has shape [3, 3, 8, 4] but its configuration "
                + "implies [3, 3, 8, 8]";
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("import-keras", "--h5", h5, "--out", out.resolve("m.zip"), "--json", out.resolve("m.json")),
                out, expected);
        // The Java API imports through the same check.
        assertEquals(expected, assertThrows(IOException.class, () -> ImportKerasModel.importModel(h5)).getMessage());
    }

    @Test
    void aNanWeightIsRefusedNamingTheLayerAndParameter() throws IOException {
        KerasFixtures f = new KerasFixtures(8, false);
        f.gamma[3] = Float.NaN;
        Path h5 = f.write(tmp.resolve("nan-gamma.h5"));
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("import-keras", "--h5", h5, "--out", out.resolve("m.zip")), out,
                h5 + ": layer 'batch_normalization' parameter 'gamma' has 1 non-finite value (NaN at [3])");
    }
}

package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.data.ChannelOrder;
import io.github.dsconv.data.ImageFolderSource;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.data.Preprocessing;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.examples.ImportKerasModel;
import org.deeplearning4j.nn.api.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.github.dsconv.it.CliTest.ok;
import static io.github.dsconv.it.CliTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A user's own model and images end to end: the real pretrained CIFAR-10 models of {@code ../shared/models} and the
 * CIFAR-10 JPEG folders of {@code ../shared/data}, through the command lines of the README (on subsets). Skipped
 * when {@code ../shared} is absent.
 */
class RealModelCliTest {

    @TempDir
    Path tmp;

    /**
     * The imported ResNet-20 expects RGB: on the first 500 test images its FP32 top-1 is above 0.75 (it is about 0.81
     * on all 10,000 JPEGs), and the same images handed over in BGR order score far lower.
     */
    @Test
    void theResNet20ScoresWellOnlyOnRgbImages() throws IOException {
        Path h5 = SharedFiles.require("models/cifar10-resnet20.h5");
        Path test = SharedFiles.require("data/cifar10/test");
        Model fp32 = ImportKerasModel.importModel(h5);
        Preprocessing rgb = Preprocessing.defaults().withMean(0.485f, 0.456f, 0.406f).withStd(0.229f, 0.224f, 0.225f);
        double rgbTop1 = top1(fp32, ImageFolderSource.open(test, rgb), 500);
        double bgrTop1 = top1(fp32, ImageFolderSource.open(test, rgb.withChannelOrder(ChannelOrder.BGR)), 500);
        System.out.printf("ResNet-20 FP32 top-1 on 500 test images: RGB %.4f, BGR %.4f%n", rgbTop1, bgrTop1);
        assertTrue(rgbTop1 > 0.75, "RGB top-1 " + rgbTop1);
        assertTrue(bgrTop1 < rgbTop1 - 0.10, "BGR top-1 " + bgrTop1 + " should be far below RGB " + rgbTop1);
    }

    private static double top1(Model m, ImageFolderSource source, int n) throws IOException {
        return Outputs.collect(m, source.batches(source.resolve(ModelInputs.of(m)), 250, n), null).top1();
    }

    /** The README's four command lines, with fewer calibration and test images. */
    @Test
    void theReadmeCommandLinesRunOnTheRealModels() throws IOException {
        Path r8h5 = SharedFiles.require("models/cifar10-resnet8-mlperf-tiny.h5");
        Path r20h5 = SharedFiles.require("models/cifar10-resnet20.h5");
        Path train = SharedFiles.require("data/cifar10/train-5k");
        Path test = SharedFiles.require("data/cifar10/test");
        Path r8 = tmp.resolve("r8.zip");
        Path r8w4 = tmp.resolve("r8-w4.dsconv.zip");
        ok("import-keras", "--h5", r8h5, "--out", r8);
        ok("quantize", "--in", r8, "--out", r8w4, "--weight-bits", 4, "--act-bits", 8, "--block", 32,
                "--calibration-data", train, "--calibration-images", 64, "--scale", 1, "--json", tmp.resolve("q.json"));
        JsonNode q = readJson(tmp.resolve("q.json"));
        assertEquals("hessian-rounding(64) + bias-correction(64)", q.get("recipe").asText());
        assertTrue(q.get("calibrationData").asText().contains("train-5k"), q.get("calibrationData").asText());
        JsonNode prov = readJson(tmp.resolve("r8-w4.dsconv.zip.provenance.json"));
        assertEquals(q.get("recipe").asText(), prov.get("summary").get("recipe").asText());

        ok("evaluate", "--model", r8w4, "--reference", r8, "--data", test, "--scale", 1, "--limit", 300,
                "--json", tmp.resolve("e.json"));
        JsonNode e = readJson(tmp.resolve("e.json"));
        assertEquals(300, e.get("images").asInt());
        assertTrue(e.get("data").asText().contains("cifar10/test"), e.get("data").asText());
        List<String> classes = new ArrayList<>();
        e.get("classes").forEach(c -> classes.add(c.asText()));
        assertEquals(List.of("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
                classes);
        assertTrue(e.get("top1").asDouble() > 0.6, "W4 top-1 " + e.get("top1"));
        assertTrue(e.get("agreement").asDouble() > 0.85, "W4 agreement with FP32 " + e.get("agreement"));
        assertTrue(Double.isFinite(e.get("logitsSqnrDb").asDouble()), "logits SQNR " + e.get("logitsSqnrDb"));

        Path r20 = tmp.resolve("r20.zip");
        ok("import-keras", "--h5", r20h5, "--out", r20);
        List<Object> args = new ArrayList<>(List.of("evaluate", "--model", r20, "--data", test));
        args.addAll(List.of((Object[]) SharedFiles.RESNET20_PREPROCESSING));
        args.addAll(List.of("--engine", "integer", "--limit", 200, "--json", tmp.resolve("e20.json")));
        ok(args.toArray());
        JsonNode e20 = readJson(tmp.resolve("e20.json"));
        assertTrue(e20.get("top1").asDouble() > 0.7, "ResNet-20 FP32 top-1 " + e20.get("top1"));
        assertEquals("integer", e20.get("engine").asText());
        assertTrue(Files.isRegularFile(r8w4));
    }
}

package io.github.dsconv.it;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.ImageFolderSource;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.data.Preprocessing;
import io.github.dsconv.engine.EngineReport;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.engine.graph.ExecutionPlan;
import io.github.dsconv.examples.ImportKerasModel;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 19's whole-graph execution on real data: a W4A8 B32 network run as one {@link ExecutionPlan} on the integer
 * engine against the same network's float simulation through DL4J. On the four committed Fashion-MNIST families
 * (1,000 test images) the outputs are asserted bit-identical where the native kernel runs (the engine's default
 * route; the GEMM routes sum in float pairs and are bounded instead), and on the real Keras-imported (NHWC) CIFAR-10
 * ResNet-20 and ResNet-8 of {@code ../shared} (1,000 test images; skipped when absent) the top-1 agrees on at least
 * 99.9% of the images (measured: bit-identical there too). Each comparison prints the nodes DL4J still ran.
 */
class ExecutionPlanAccuracyTest {

    private static final int IMAGES = 1000;
    private static final LayerSpec W4 = new LayerSpec(4, 8, 32);

    /** What one comparison found. */
    record Comparison(int images, int identical, int sameTop1, double maxAbsDiff, List<String> fallbacks,
                      String kernel) {
    }

    static Comparison compare(Model fp32, DataSetIterator data) {
        Model ds = new DSConvConverter(ConversionPlan.uniform(W4)).convert(fp32).network();
        List<INDArray> inputs = new ArrayList<>();
        List<float[]> sim = new ArrayList<>();
        data.reset();
        while (data.hasNext()) {
            INDArray x = data.next().getFeatures();
            inputs.add(x);
            sim.add(Network.of(ds).output(x).dup().data().asFloat());
        }
        EngineReport rep = IntegerEngine.enable(ds);
        ExecutionPlan plan = ExecutionPlan.compile(ds);
        int images = 0;
        int identical = 0;
        int sameTop1 = 0;
        double maxDiff = 0;
        for (int b = 0; b < inputs.size(); b++) {
            INDArray out = plan.output(inputs.get(b));
            float[] got = out.data().asFloat();
            float[] exp = sim.get(b);
            int classes = (int) out.size(1);
            for (int r = 0; r < out.size(0); r++) {
                float[] g = Arrays.copyOfRange(got, r * classes, (r + 1) * classes);
                float[] e = Arrays.copyOfRange(exp, r * classes, (r + 1) * classes);
                images++;
                identical += Arrays.equals(g, e) ? 1 : 0;
                sameTop1 += argmax(g) == argmax(e) ? 1 : 0;
                for (int c = 0; c < classes; c++) {
                    maxDiff = Math.max(maxDiff, Math.abs(g[c] - e[c]));
                }
            }
        }
        IntegerEngine.disable(ds);
        Comparison c = new Comparison(images, identical, sameTop1, maxDiff, plan.fallbacks(), rep.kernel());
        System.out.println("ExecutionPlan vs float simulation: " + c);
        return c;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet", "googlenet", "vgg", "densenet"})
    void smallFamiliesAreBitIdentical(String family) throws IOException {
        Model fp32 = ModelFiles.load(Paths.get("..", "models", "fmnist-" + family + ".zip"));
        Comparison c = compare(fp32, new InMemoryIterator(FashionMnist.load(FashionMnist.Split.TEST, IMAGES), 250));
        assertEquals(IMAGES, c.images());
        if (c.kernel().startsWith("native")) {
            assertEquals(IMAGES, c.identical(), c.toString());
        } else {
            assertTrue(c.sameTop1() >= 0.999 * IMAGES, c.toString());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cifar10-resnet20.h5", "cifar10-resnet8-mlperf-tiny.h5"})
    void realKerasModelsAgreeOnTop1(String file) throws IOException {
        Path h5 = SharedFiles.require("models/" + file);
        Path test = SharedFiles.require("data/cifar10/test");
        Model fp32 = ImportKerasModel.importModel(h5);
        // ResNet-20 takes ImageNet-normalised RGB in [0, 1]; the MLPerf Tiny ResNet-8 raw pixels 0..255.
        Preprocessing pre = file.contains("resnet20")
                ? Preprocessing.defaults().withMean(0.485f, 0.456f, 0.406f).withStd(0.229f, 0.224f, 0.225f)
                : Preprocessing.defaults().withScale("1");
        ImageFolderSource source = ImageFolderSource.open(test, pre);
        Comparison c = compare(fp32, source.batches(source.resolve(ModelInputs.of(fp32)), 250, IMAGES));
        assertEquals(IMAGES, c.images());
        assertTrue(c.sameTop1() >= 0.999 * IMAGES, c.toString());
    }

    @Test
    void runsTheWholeSmallResNetOnTheEngine() throws IOException {
        Model fp32 = ModelFiles.load(Paths.get("..", "models", "fmnist-resnet.zip"));
        Comparison c = compare(fp32, new InMemoryIterator(FashionMnist.load(FashionMnist.Split.TEST, 250), 250));
        assertEquals(List.of(), c.fallbacks(), "every node of the small ResNet is an engine step");
    }
}

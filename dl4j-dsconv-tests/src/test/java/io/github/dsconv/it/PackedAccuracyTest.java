package io.github.dsconv.it;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.pack.PackedModelFormat;
import io.github.dsconv.quant.ScalePrecision;
import org.deeplearning4j.nn.api.Model;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fp16 storage of the non-convolution parameters (BN including running mean and variance, dense, biases) costs no
 * accuracy on the committed small ResNet: on the first 2,000 Fashion-MNIST test images the packed model's top-1
 * equals the in-memory model's within 0.1 pp, and at least 99.5% of the images get the same top-1 class.
 */
class PackedAccuracyTest {

    static final Path MODEL = Paths.get("..", "models", "fmnist-resnet.zip");
    static final int SUBSET = 2000;
    /** 0.1 pp, inclusive (2 of 2,000 images). */
    static final double TOP1_TOLERANCE = 0.001 + 1e-9;
    static final double MIN_AGREEMENT = 0.995;

    static Model fp32;
    static InMemoryIterator subset;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void load() throws Exception {
        fp32 = ModelFiles.load(MODEL);
        subset = new InMemoryIterator(FashionMnist.load(FashionMnist.Split.TEST, SUBSET), 500);
    }

    private static void assertNoLoss(String what, Outputs reference, Outputs packed) {
        System.out.printf("%s: in memory %.4f, packed fp16 params %.4f, agreement %.4f, logits SQNR %.1f dB%n", what,
                reference.top1(), packed.top1(), packed.agreement(reference), packed.logitsSqnrDb(reference));
        assertEquals(reference.top1(), packed.top1(), TOP1_TOLERANCE, what + " top-1");
        assertTrue(packed.agreement(reference) >= MIN_AGREEMENT, what + " agreement " + packed.agreement(reference));
    }

    @Test
    void fp16ParamsCostNoAccuracyOnTheFp32Model() throws Exception {
        // no DSConv layer: convolution kernels stay FP32, only BN, dense and biases go to fp16
        Path f = tmp.resolve("fp32-model.dsconv.zip");
        PackedModelFormat.Written w = PackedModelFormat.write(fp32, f, PackedModelFormat.Options.defaults());
        assertEquals(w.fp32ConvWeightBytes(), w.convWeightBytes());
        assertNoLoss("FP32 model", Outputs.collect(fp32, subset, null), Outputs.collect(ModelFiles.load(f), subset,
                null));
    }

    @Test
    void fp16ParamsCostNoAccuracyOnTheW4DsconvModel() throws Exception {
        Model w4 = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32))).convert(fp32).network();
        Outputs mem = Outputs.collect(w4, subset, null);
        Path f16 = tmp.resolve("w4.dsconv.zip");
        PackedModelFormat.write(w4, f16, PackedModelFormat.Options.defaults());
        assertNoLoss("DSConv W4A8", mem, Outputs.collect(ModelFiles.load(f16), subset, null));
        // with fp32 params the loaded model is the in-memory one
        Path f32 = tmp.resolve("w4-fp32.dsconv.zip");
        PackedModelFormat.write(w4, f32, PackedModelFormat.Options.defaults()
                .withParamsPrecision(ScalePrecision.FP32));
        Outputs back = Outputs.collect(ModelFiles.load(f32), subset, null);
        assertTrue(java.util.Arrays.equals(back.logits().dup('c').data().asFloat(), mem.logits().dup('c').data()
                .asFloat()), "fp32 params: logits must be bit-identical");
    }
}

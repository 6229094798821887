package io.github.dsconv.distill;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.eval.Outputs;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * On real data: a small CNN trained for 188 steps on 3,000 labelled Fashion-MNIST images, converted to DSConv at
 * W2A8 (with CDS), then distilled for two epochs on 3,000 other training images without their labels (10% held
 * out for early stopping); top-1 and teacher agreement on 1,000 test images must improve. Deterministic on a given
 * machine; about 50 s on a busy 2-core machine. Skipped when the Fashion-MNIST files are not installed.
 */
class DistillFashionMnistTest {

    /** conv(8) - BN - ReLU - pool - conv(16) - BN - ReLU - pool - dense softmax: 83% after a few hundred steps. */
    private static MultiLayerNetwork smallCnn() {
        NeuralNetConfiguration.ListBuilder b = new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(1e-2))
                .weightInit(WeightInit.RELU).convolutionMode(ConvolutionMode.Same).list();
        int[] widths = {8, 16};
        for (int i = 0; i < widths.length; i++) {
            b.layer(new ConvolutionLayer.Builder(3, 3).nOut(widths[i]).hasBias(false)
                    .activation(Activation.IDENTITY).name("conv" + i).build());
            b.layer(new BatchNormalization.Builder().name("bn" + i).build());
            b.layer(new ActivationLayer.Builder().activation(Activation.RELU).build());
            b.layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build());
        }
        b.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX)
                .weightInit(WeightInit.XAVIER).build());
        b.setInputType(InputType.convolutional(28, 28, 1));
        MultiLayerNetwork net = new MultiLayerNetwork(b.build());
        net.init();
        return net;
    }

    /** Runs with one ND4J and BLAS thread ({@link Threads}). */
    @Test
    void distillationWithoutLabelsImprovesW2Accuracy() throws IOException {
        assumeTrue(Files.isDirectory(FashionMnist.defaultDir()), "Fashion-MNIST not installed");
        try (Threads ignored = Threads.one()) {
            run();
        }
    }

    private static void run() throws IOException {
        long t0 = System.nanoTime();
        DataSet all = FashionMnist.load(FashionMnist.Split.TRAIN, 6000);
        DataSet labelled = new DataSet(all.getFeatures().get(NDArrayIndex.interval(0, 3000)).dup(),
                all.getLabels().get(NDArrayIndex.interval(0, 3000)).dup());
        INDArray unlabelled = all.getFeatures().get(NDArrayIndex.interval(3000, 6000)).dup();
        DataSet test = FashionMnist.load(FashionMnist.Split.TEST, 1000);

        MultiLayerNetwork teacher = smallCnn();
        InMemoryIterator it = new InMemoryIterator(labelled, 32, true, 5);
        int steps = 0;
        for (int epoch = 0; epoch < 2; epoch++) {
            it.reset();
            while (it.hasNext()) {
                teacher.fit(it.next());
                steps++;
            }
        }
        double tTrain = (System.nanoTime() - t0) / 1e9;
        MultiLayerNetwork student = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(2, 8, 32))
                .withMethod(false, true, false)).convert(teacher).network();
        Outputs teacherOut = Outputs.collect(teacher, new InMemoryIterator(test, 250), null);
        Outputs before = Outputs.collect(student, new InMemoryIterator(test, 250), null);
        DistillResult r = new Distiller(DistillConfig.defaults().withEpochs(2)).distill(teacher, student, unlabelled);
        Outputs after = Outputs.collect(r.student(), new InMemoryIterator(test, 250), null);
        System.out.printf(Locale.ROOT, "Fashion-MNIST W2A8 distillation on 1000 test images: teacher FP32 top-1 %.3f "
                        + "(%d steps, %.1f s); DSConv top-1 %.3f -> %.3f, agreement with the teacher %.3f -> %.3f "
                        + "(held-out %.3f -> %.3f, best epoch %d, distilled %d images in %.1f s); total %.1f s%n",
                teacherOut.top1(), steps, tTrain, before.top1(), after.top1(), before.agreement(teacherOut),
                after.agreement(teacherOut), r.heldOutAgreementBefore(), r.heldOutAgreementBest(), r.bestEpoch(),
                r.trainImages(), r.seconds(), (System.nanoTime() - t0) / 1e9);
        assertTrue(after.top1() > before.top1(), "top-1 " + before.top1() + " -> " + after.top1());
        assertTrue(after.agreement(teacherOut) > before.agreement(teacherOut));
    }
}

package io.github.dsconv.examples;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.data.Preprocessing;
import io.github.dsconv.ptq.PostTrainingQuantizer;
import io.github.dsconv.ptq.PtqResult;
import io.github.dsconv.eval.Accuracy;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.io.File;

/** The README's quickstart, kept here so the compiler checks it. Run from the project root. */
public final class QuickStart {

    private QuickStart() {
    }

    public static void main(String[] args) throws Exception {
        ComputationGraph fp32 = ModelSerializer.restoreComputationGraph(new File("models/fmnist-resnet.zip"));
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4, 8, 32)); // W4, A8 BFP, blocks of 32
        Converted<ComputationGraph> dsconv = new DSConvConverter(plan).convert(fp32);
        System.out.print(dsconv.report().toTable()); // per layer: SQNR, FP32 and DSConv bytes
        DataSetIterator test = new InMemoryIterator(FashionMnist.load(FashionMnist.Split.TEST, 0), 500);
        System.out.println("FP32 top-1   " + Accuracy.top1(fp32, test, null));
        System.out.println("DSConv top-1 " + Accuracy.top1(dsconv.network(), test, null));
        ModelSerializer.writeModel(dsconv.network(), new File("resnet-w4a8.zip"), false);

        // W3 without labels or training: with calibration images the default recipe re-chooses q against each
        // layer's output error (Hessian-aware rounding), then removes the mean shift (bias correction).
        ImageSource unlabelled = new FashionMnistSource(FashionMnist.Split.TRAIN, Preprocessing.defaults());
        PtqResult w3 = PostTrainingQuantizer.builder()
                .plan(ConversionPlan.uniform(new LayerSpec(3, 8, 32)))
                .calibrationData(unlabelled, 512) // or a folder: ImageFolderSource.open(dir, preprocessing)
                .build().quantize(fp32);
        System.out.println("W3 top-1     " + Accuracy.top1(w3.network(), test, null) + " (" + w3.recipe().describe()
                + ")");
    }
}

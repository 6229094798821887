package io.github.dsconv.examples;

import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.calibrate.HessianRounding;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.eval.Accuracy;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
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

        // W3 without labels or training: re-choose q against each layer's output error, then remove the mean shift.
        Converted<ComputationGraph> w3 = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(3, 8, 32)))
                .convert(fp32);
        INDArray unlabelled = FashionMnist.load(FashionMnist.Split.TRAIN, 512).getFeatures(); // labels unread
        HessianRounding.apply(fp32, w3.network(), unlabelled, 128, false);
        BiasCorrection.apply(fp32, w3.network(), unlabelled, 128);
        System.out.println("W3 top-1     " + Accuracy.top1(w3.network(), test, null));
    }
}

package io.github.dsconv.it;

import io.github.dsconv.examples.TrainSmallModel;
import io.github.dsconv.zoo.small.SmallModels;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The learning-rate schedule of one-epoch training runs ({@link TrainSmallModel#oneEpochSchedule}). */
class TrainScheduleTest {

    @Test
    void oneEpochRunDropsTheLearningRateForItsLastThirtyPercent() {
        MultiLayerNetwork net = SmallModels.vgg(1, 1);
        TrainSmallModel.oneEpochSchedule(net, 10); // drop at iteration round(0.7 * 10) = 7
        DataSet batch = new DataSet(Nd4j.rand(DataType.FLOAT, 4, 1, 28, 28),
                Nd4j.eye(10).getRows(0, 1, 2, 3).castTo(DataType.FLOAT));
        double[] seen = new double[10];
        for (int i = 0; i < 10; i++) {
            seen[i] = net.getLearningRate(0); // the rate the next update uses
            net.fit(batch);
        }
        for (int i = 0; i < 10; i++) {
            assertEquals(i < 7 ? 1e-3 : 2e-4, seen[i], 1e-12, "iteration " + i);
        }
    }
}

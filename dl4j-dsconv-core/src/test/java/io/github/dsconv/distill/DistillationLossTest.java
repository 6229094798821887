package io.github.dsconv.distill;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link DistillationLoss}: hand-computed values, finite differences, DL4J's gradient check and JSON. */
class DistillationLossTest {

    private static final ActivationIdentity ID = new ActivationIdentity();

    private static double kl(double[] p, double[] q) {
        double s = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                s += p[i] * Math.log(p[i] / q[i]);
            }
        }
        return s;
    }

    private static double[] softmax(double[] z, double t) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v / t);
        }
        double sum = 0;
        double[] e = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            e[i] = Math.exp(z[i] / t - max);
            sum += e[i];
        }
        for (int i = 0; i < z.length; i++) {
            e[i] /= sum;
        }
        return e;
    }

    @Test
    void matchesHandComputedKlTimesTSquared() {
        double t = 4;
        double[] zt = {2.0, -1.0, 0.5};
        double[] zs = {0.3, 1.2, -0.7};
        double[] p = softmax(zt, t);
        double[] q = softmax(zs, t);
        double expected = t * t * kl(p, q);
        INDArray labels = Nd4j.create(new double[][] {p});
        INDArray pre = Nd4j.create(new double[][] {zs});
        DistillationLoss loss = new DistillationLoss(t);
        assertEquals(expected, loss.computeScore(labels, pre, ID, null, false), 1e-12);
        INDArray g = loss.computeGradient(labels, pre, ID, null);
        for (int k = 0; k < 3; k++) {
            assertEquals(t * (q[k] - p[k]), g.getDouble(0, k), 1e-12);
        }
    }

    @Test
    void isZeroWhenStudentEqualsTeacherAndHandlesZeroProbabilities() {
        INDArray z = TinyNets.random(1, DataType.DOUBLE, 5, 7).muli(10);
        DistillationLoss loss = new DistillationLoss(2);
        INDArray p = DistillationLoss.softTargets(z, 2);
        assertEquals(0.0, loss.computeScore(p, z, ID, null, true), 1e-12);
        assertEquals(0.0, loss.computeGradient(p, z, ID, null).amaxNumber().doubleValue(), 1e-12);
        // A one-hot target (zeros elsewhere) stays finite.
        INDArray hard = Nd4j.zeros(DataType.FLOAT, 1, 3).putScalar(0, 1, 1.0);
        double s = loss.computeScore(hard, Nd4j.create(new float[][] {{1f, 2f, 3f}}), ID, null, false);
        assertTrue(Double.isFinite(s) && s > 0, "score " + s);
    }

    @Test
    void averagesLikeDl4jLosses() {
        INDArray z = TinyNets.random(2, DataType.DOUBLE, 6, 4);
        INDArray p = DistillationLoss.softTargets(TinyNets.random(3, DataType.DOUBLE, 6, 4), 4);
        DistillationLoss loss = new DistillationLoss();
        double sum = loss.computeScore(p, z, ID, null, false);
        assertEquals(sum / 6, loss.computeScore(p, z, ID, null, true), 1e-12);
        assertEquals(sum, loss.computeScoreArray(p, z, ID, null).sumNumber().doubleValue(), 1e-12);
        INDArray mask = Nd4j.create(new double[] {1, 0, 1, 1, 0, 1}, 6, 1);
        INDArray masked = loss.computeScoreArray(p, z, ID, mask);
        assertEquals(0.0, masked.getDouble(1, 0), 0.0);
        assertEquals(0.0, loss.computeGradient(p, z, ID, mask).getRow(4).amaxNumber().doubleValue(), 0.0);
    }

    /** Central differences of {@code computeScore} against {@code computeGradient}, double precision. */
    @Test
    void gradientMatchesFiniteDifferences() {
        for (double t : new double[] {1, 4, 10}) {
            INDArray z = TinyNets.random(4, DataType.DOUBLE, 3, 5).muli(3);
            INDArray p = DistillationLoss.softTargets(TinyNets.random(5, DataType.DOUBLE, 3, 5).muli(3), t);
            DistillationLoss loss = new DistillationLoss(t);
            INDArray g = loss.computeGradient(p, z, ID, null);
            double h = 1e-6;
            for (int i = 0; i < 3; i++) {
                for (int k = 0; k < 5; k++) {
                    INDArray zp = z.dup();
                    zp.putScalar(i, k, z.getDouble(i, k) + h);
                    INDArray zm = z.dup();
                    zm.putScalar(i, k, z.getDouble(i, k) - h);
                    double num = (loss.computeScore(p, zp, ID, null, false)
                            - loss.computeScore(p, zm, ID, null, false)) / (2 * h);
                    assertEquals(num, g.getDouble(i, k), 1e-7, "T=" + t + " [" + i + "," + k + "]");
                }
            }
        }
    }

    /** DL4J's own gradient check of a dense layer trained through the loss (network averaging included). */
    @Test
    void passesDl4jGradientCheck() {
        DataType previous = Nd4j.dataType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        try {
            MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).dataType(DataType.DOUBLE)
                    .updater(new NoOp()).weightInit(WeightInit.XAVIER).list()
                    .layer(new DenseLayer.Builder().nIn(4).nOut(6).activation(Activation.TANH).build())
                    .layer(new DenseLayer.Builder().nIn(6).nOut(5).activation(Activation.IDENTITY).build())
                    .layer(new LossLayer.Builder(new DistillationLoss(3)).activation(Activation.IDENTITY).build())
                    .build();
            MultiLayerNetwork net = new MultiLayerNetwork(conf);
            net.init();
            INDArray x = TinyNets.random(6, DataType.DOUBLE, 7, 4);
            INDArray p = DistillationLoss.softTargets(TinyNets.random(7, DataType.DOUBLE, 7, 5).muli(4), 3);
            assertTrue(GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net).input(x)
                    .labels(p).epsilon(1e-6).maxRelError(1e-6).minAbsoluteError(1e-10).subset(true).maxPerParam(6)));
            // The network's score is the per-example mean.
            double mean = new DistillationLoss(3).computeScore(p, net.output(x), ID, null, true);
            assertEquals(mean, net.score(new DataSet(x, p)), 1e-10);
        } finally {
            Nd4j.setDefaultDataTypes(previous, previous);
        }
    }

    @Test
    void survivesJson() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(5).build())
                .layer(new LossLayer.Builder(new DistillationLoss(2.5)).activation(Activation.IDENTITY).build())
                .build();
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(conf.toJson());
        assertEquals(conf, back);
        LossLayer l = (LossLayer) back.getConf(1).getLayer();
        assertEquals(2.5, ((DistillationLoss) l.getLossFn()).getTemperature(), 0.0);
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(0));
        assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(Double.NaN));
        DistillationLoss loss = new DistillationLoss();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loss.computeScore(Nd4j.zeros(2, 3), Nd4j.zeros(2, 4), ID, null, true));
        assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
    }
}

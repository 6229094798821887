package io.github.dsconv.distill;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.LossUtil;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;

/**
 * The knowledge-distillation loss of Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network"
 * (NIPS 2014 Deep Learning Workshop, arXiv:1503.02531, 2015), as a DL4J {@link ILossFunction}; used here to adapt
 * DSConv (ICCV 2019) students to their FP32 teachers.
 *
 * <p>Use it with an {@code IDENTITY} activation so that the pre-output is the student's logits {@code z_s}; the
 * labels are the teacher's softened probabilities {@code p_t = softmax(z_t / T)}. Per example
 * <pre>
 *   L = T^2 * KL(p_t || softmax(z_s / T)) = T^2 * sum_k p_t[k] (log p_t[k] - log softmax(z_s / T)[k])
 *   dL/dz_s = T * (softmax(z_s / T) - p_t)
 * </pre>
 * The {@code T^2} factor keeps the gradient magnitude independent of {@code T} (Hinton et al., section 2). As
 * with DL4J's own losses ({@code LossMCXENT}), {@link #computeGradient} returns per-example gradients (the updater
 * divides by the minibatch size) and {@link #computeScore} sums over examples and divides by their number when
 * {@code average} is set. Terms with {@code p_t[k] = 0} contribute zero. Temperature defaults to
 * {@value #DEFAULT_TEMPERATURE}.
 */
public class DistillationLoss implements ILossFunction {

    /** Default softmax temperature. */
    public static final double DEFAULT_TEMPERATURE = 4.0;

    private static final long serialVersionUID = 1L;

    private double temperature = DEFAULT_TEMPERATURE;

    /** The loss at the default temperature (also for JSON deserialization). */
    public DistillationLoss() {
    }

    /** The loss at temperature {@code T > 0}. */
    public DistillationLoss(double temperature) {
        setTemperature(temperature);
    }

    /** Softmax temperature {@code T}. Defaults to 4. */
    public double getTemperature() {
        return temperature;
    }

    /** Sets the temperature; it must be finite and positive. */
    public void setTemperature(double temperature) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("distillation temperature must be positive and finite, got "
                    + temperature);
        }
        this.temperature = temperature;
    }

    /** Per-example loss {@code [n, 1]}. */
    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        check(labels, preOutput);
        INDArray p = labels.castTo(preOutput.dataType());
        INDArray logQ = logSoftmax(activationFn.getActivation(preOutput.dup(), true).divi(temperature));
        // p log p with 0 log 0 = 0: the log of a clamped copy is finite and the product with p = 0 is 0.
        INDArray logP = Transforms.log(Transforms.max(p, Float.MIN_NORMAL, true), false);
        INDArray perClass = logP.subi(logQ).muli(p);
        INDArray score = perClass.sum(true, 1).muli(temperature * temperature);
        if (mask != null) {
            LossUtil.applyMask(score, mask);
        }
        return score;
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        INDArray scores = computeScoreArray(labels, preOutput, activationFn, mask);
        double sum = scores.sumNumber().doubleValue();
        return average ? sum / scores.size(0) : sum;
    }

    /** Per-example gradient with respect to the pre-output, {@code T (softmax(z_s/T) - p_t)} through the activation. */
    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        check(labels, preOutput);
        INDArray p = labels.castTo(preOutput.dataType());
        INDArray z = activationFn.getActivation(preOutput.dup(), true);
        INDArray q = Transforms.exp(logSoftmax(z.divi(temperature)), false);
        INDArray dLdz = q.subi(p).muli(temperature);
        INDArray grad = activationFn.backprop(preOutput.dup(), dLdz).getFirst();
        if (mask != null) {
            LossUtil.applyMask(grad, mask);
        }
        return grad;
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
                                                          IActivation activationFn, INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activationFn, mask, average),
                computeGradient(labels, preOutput, activationFn, mask));
    }

    @Override
    public String name() {
        return toString();
    }

    @Override
    public String toString() {
        return "DistillationLoss(T=" + temperature + ")";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DistillationLoss that && Double.compare(temperature, that.temperature) == 0;
    }

    @Override
    public int hashCode() {
        return Double.hashCode(temperature);
    }

    /** Row-wise {@code log softmax}, stable for large logits (a new array; the argument is modified). */
    static INDArray logSoftmax(INDArray z) {
        INDArray shifted = z.subiColumnVector(z.max(true, 1));
        INDArray logSum = Transforms.log(Transforms.exp(shifted, true).sum(true, 1), false);
        return shifted.subiColumnVector(logSum);
    }

    /** Row-wise {@code softmax(z / T)} of logits (a new array). */
    public static INDArray softTargets(INDArray logits, double temperature) {
        return Transforms.exp(logSoftmax(logits.div(temperature)), false);
    }

    private static void check(INDArray labels, INDArray preOutput) {
        if (labels.rank() != 2 || !labels.equalShapes(preOutput)) {
            throw new IllegalArgumentException("DistillationLoss: labels (teacher probabilities) and pre-output "
                    + "(student logits) must both be [n, classes]; got " + Arrays.toString(labels.shape()) + " and "
                    + Arrays.toString(preOutput.shape()));
        }
    }
}

package io.github.dsconv.distill;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Settings of a distillation run (Hinton, Vinyals and Dean 2015, "Distilling the Knowledge in a Neural Network")
 * that adapts a DSConv (ICCV 2019) student to its FP32 teacher on unlabelled images.
 *
 * <p>The learning rate defaults to {@value #DEFAULT_LEARNING_RATE} (Adam). The DSConv reference fine-tuning used
 * Adam at 1e-6 for two labelled ImageNet epochs; that is far too small to move the scales in a one-epoch
 * adaptation of a small network, so this stage uses DL4J's usual Adam default instead.
 *
 * @param temperature     softmax temperature {@code T} of the distillation loss. Defaults to 4.
 * @param epochs          passes over the training images. Defaults to 1.
 * @param batchSize       images per minibatch. Defaults to 64.
 * @param learningRate    Adam learning rate of every trained parameter. Defaults to 1e-3.
 * @param trainable       parameter groups to train ({@code q} never is). Defaults to all of {@link TrainableGroup}.
 * @param seed            seed of the held-out split and of the per-epoch shuffles. Defaults to 42.
 * @param heldOutFraction fraction of the unlabelled images held out to measure teacher agreement after each epoch
 *                        for early stopping, in {@code [0, 0.5]}; 0 turns early stopping off (the last epoch is
 *                        kept). Defaults to 0.1.
 * @param patience        epochs without a strict improvement of held-out agreement before stopping. Defaults to 1.
 * @param featureLayers   vertex names of a ComputationGraph whose activations the student should also match
 *                        (mean squared error); empty for logits only. Defaults to none.
 * @param featureWeight   weight of each feature term, a per-example mean over the activation's elements.
 *                        Defaults to 1.
 */
public record DistillConfig(double temperature, int epochs, int batchSize, double learningRate,
                            Set<TrainableGroup> trainable, long seed, double heldOutFraction, int patience,
                            List<String> featureLayers, double featureWeight) {

    /** Default temperature. */
    public static final double DEFAULT_TEMPERATURE = DistillationLoss.DEFAULT_TEMPERATURE;
    /** Default number of epochs. */
    public static final int DEFAULT_EPOCHS = 1;
    /** Default minibatch size. */
    public static final int DEFAULT_BATCH_SIZE = 64;
    /** Default Adam learning rate. */
    public static final double DEFAULT_LEARNING_RATE = 1e-3;
    /** Default seed. */
    public static final long DEFAULT_SEED = 42;
    /** Default held-out fraction. */
    public static final double DEFAULT_HELD_OUT_FRACTION = 0.1;
    /** Default early-stopping patience. */
    public static final int DEFAULT_PATIENCE = 1;
    /** Default weight of a feature-matching term. */
    public static final double DEFAULT_FEATURE_WEIGHT = 1.0;

    public DistillConfig {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be positive and finite, got " + temperature);
        }
        if (epochs < 1) {
            throw new IllegalArgumentException("epochs must be at least 1, got " + epochs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate must be positive and finite, got " + learningRate);
        }
        Objects.requireNonNull(trainable, "trainable");
        if (trainable.isEmpty()) {
            throw new IllegalArgumentException("at least one trainable group is needed (some of "
                    + String.join(",", TrainableGroup.names(TrainableGroup.ALL)) + ")");
        }
        trainable = Set.copyOf(trainable);
        if (!(heldOutFraction >= 0 && heldOutFraction <= 0.5)) {
            throw new IllegalArgumentException("held-out fraction must be in [0, 0.5], got " + heldOutFraction);
        }
        if (patience < 1) {
            throw new IllegalArgumentException("patience must be at least 1, got " + patience);
        }
        featureLayers = List.copyOf(featureLayers == null ? List.of() : featureLayers);
        if (new HashSet<>(featureLayers).size() != featureLayers.size()) {
            throw new IllegalArgumentException("feature layers are listed twice: " + featureLayers);
        }
        if (!(featureWeight >= 0) || Double.isInfinite(featureWeight)) {
            throw new IllegalArgumentException("feature weight must be finite and >= 0, got " + featureWeight);
        }
    }

    /** Every default: T=4, 1 epoch, batch 64, Adam 1e-3, all groups, seed 42, 10% held out, patience 1. */
    public static DistillConfig defaults() {
        return new DistillConfig(DEFAULT_TEMPERATURE, DEFAULT_EPOCHS, DEFAULT_BATCH_SIZE, DEFAULT_LEARNING_RATE,
                TrainableGroup.ALL, DEFAULT_SEED, DEFAULT_HELD_OUT_FRACTION, DEFAULT_PATIENCE, List.of(),
                DEFAULT_FEATURE_WEIGHT);
    }

    /** A copy with another temperature. */
    public DistillConfig withTemperature(double t) {
        return new DistillConfig(t, epochs, batchSize, learningRate, trainable, seed, heldOutFraction, patience,
                featureLayers, featureWeight);
    }

    /** A copy with another number of epochs. */
    public DistillConfig withEpochs(int n) {
        return new DistillConfig(temperature, n, batchSize, learningRate, trainable, seed, heldOutFraction, patience,
                featureLayers, featureWeight);
    }

    /** A copy with another minibatch size. */
    public DistillConfig withBatchSize(int n) {
        return new DistillConfig(temperature, epochs, n, learningRate, trainable, seed, heldOutFraction, patience,
                featureLayers, featureWeight);
    }

    /** A copy with another learning rate. */
    public DistillConfig withLearningRate(double lr) {
        return new DistillConfig(temperature, epochs, batchSize, lr, trainable, seed, heldOutFraction, patience,
                featureLayers, featureWeight);
    }

    /** A copy training other groups. */
    public DistillConfig withTrainable(Set<TrainableGroup> groups) {
        return new DistillConfig(temperature, epochs, batchSize, learningRate, groups, seed, heldOutFraction,
                patience, featureLayers, featureWeight);
    }

    /** A copy with another seed. */
    public DistillConfig withSeed(long s) {
        return new DistillConfig(temperature, epochs, batchSize, learningRate, trainable, s, heldOutFraction,
                patience, featureLayers, featureWeight);
    }

    /** A copy with another held-out fraction and patience (fraction 0 turns early stopping off). */
    public DistillConfig withEarlyStopping(double fraction, int patienceEpochs) {
        return new DistillConfig(temperature, epochs, batchSize, learningRate, trainable, seed, fraction,
                patienceEpochs, featureLayers, featureWeight);
    }

    /** A copy that also matches the activations of these graph vertices, each term weighted by {@code weight}. */
    public DistillConfig withFeatureLayers(List<String> names, double weight) {
        return new DistillConfig(temperature, epochs, batchSize, learningRate, trainable, seed, heldOutFraction,
                patience, names, weight);
    }

    /** Command-line names of the trained groups, in declaration order. */
    public List<String> trainableNames() {
        return new ArrayList<>(TrainableGroup.names(trainable));
    }
}

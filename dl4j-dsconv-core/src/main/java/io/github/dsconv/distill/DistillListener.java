package io.github.dsconv.distill;

/**
 * Progress callbacks of a {@link Distiller} run (Hinton et al. 2015, "Distilling the Knowledge in a Neural
 * Network", applied to DSConv, ICCV 2019), e.g. for a progress bar. Every method has an empty default. A
 * runtime exception thrown here aborts the run; the last checkpoint stays valid.
 */
public interface DistillListener {

    /**
     * Called once before training.
     *
     * @param trainImages   images trained on per epoch
     * @param heldOutImages images held out for early stopping (0 when off)
     * @param firstEpoch    1-based epoch the run starts with (greater than 1 when resumed)
     * @param epochs        last epoch planned
     */
    default void onStart(int trainImages, int heldOutImages, int firstEpoch, int epochs) {
    }

    /**
     * Called after each minibatch update.
     *
     * @param epoch          1-based epoch
     * @param images         images in this minibatch
     * @param loss           this minibatch's loss
     * @param meanLoss       mean loss of the epoch so far
     * @param agreement      fraction of the epoch's images so far on which student and teacher agreed
     */
    default void onBatch(int epoch, int images, double loss, double meanLoss, double agreement) {
    }

    /** Called after each epoch, once its checkpoint (if any) is written. */
    default void onEpochEnd(EpochStats stats) {
    }
}

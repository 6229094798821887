package io.github.dsconv.distill;

/**
 * What one distillation epoch (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network") of a DSConv
 * (ICCV 2019) student did.
 *
 * @param epoch             1-based epoch number
 * @param meanLoss          mean training loss over the epoch's minibatches ({@code T^2 KL}, plus feature terms)
 * @param trainAgreement    fraction of the epoch's training images on which student (before each update) and
 *                          teacher predicted the same class
 * @param heldOutAgreement  teacher agreement on the held-out images after the epoch, or null without a held-out split
 * @param seconds           wall time of the epoch, including the held-out evaluation and the checkpoint
 */
public record EpochStats(int epoch, double meanLoss, double trainAgreement, Double heldOutAgreement,
                         double seconds) {
}

package io.github.dsconv.distill;

import org.deeplearning4j.nn.api.Model;

import java.util.List;
import java.util.Map;

/**
 * The outcome of distilling (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network") a DSConv
 * (ICCV 2019) student.
 *
 * @param student                 the adapted student: the input student's architecture (softmax head) with the
 *                                parameters of the best epoch; a new network, the input is not modified
 * @param epochsRun               epochs completed in total, including those of a resumed checkpoint
 * @param bestEpoch               epoch whose parameters were kept (0 = the student as given)
 * @param stoppedEarly            whether held-out agreement stopped improving before the planned epochs ended
 * @param history                 every completed epoch, in order
 * @param trainImages             images trained on per epoch
 * @param heldOutImages           images held out for early stopping
 * @param heldOutAgreementBefore  teacher agreement on the held-out images before training, or null
 * @param heldOutAgreementBest    teacher agreement on the held-out images of the kept parameters, or null
 * @param trainableParams         parameters trained, by group (groups the student does not have are absent)
 * @param resumedFromEpoch        epochs already completed in the checkpoint this run resumed (0 = fresh run)
 * @param seconds                 wall time of this call
 */
public record DistillResult(Model student, int epochsRun, int bestEpoch, boolean stoppedEarly,
                            List<EpochStats> history, int trainImages, int heldOutImages,
                            Double heldOutAgreementBefore, Double heldOutAgreementBest,
                            Map<TrainableGroup, Long> trainableParams, int resumedFromEpoch, double seconds) {

    public DistillResult {
        history = List.copyOf(history);
        trainableParams = Map.copyOf(trainableParams);
    }
}

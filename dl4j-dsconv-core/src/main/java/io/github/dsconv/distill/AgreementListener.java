package io.github.dsconv.distill;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;

/**
 * A DL4J training listener that reads the student's logits from each training forward pass (the activation of
 * the frozen dense layer in front of the distillation loss) and the minibatch score, so that progress reporting
 * costs no extra forward pass.
 */
final class AgreementListener extends BaseTrainingListener {

    private final int logitsLayer;
    private final String logitsVertex;
    private int[] teacherClasses;
    private int agreed = -1;
    private double score = Double.NaN;

    /** @param logitsLayer MLN layer index of the logits, or -1; @param logitsVertex CG vertex name, or null */
    AgreementListener(int logitsLayer, String logitsVertex) {
        this.logitsLayer = logitsLayer;
        this.logitsVertex = logitsVertex;
    }

    /** Sets the teacher's predicted classes of the next minibatch. */
    void expect(int[] teacherClasses) {
        this.teacherClasses = teacherClasses;
        this.agreed = -1;
        this.score = Double.NaN;
    }

    /** Images of the last minibatch on which student and teacher agreed (-1 if no forward pass was seen). */
    int agreed() {
        return agreed;
    }

    /** Score (loss) of the last minibatch. */
    double score() {
        return score;
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        // Element 0 is the input, element i + 1 the activation of layer i.
        count(activations.get(logitsLayer + 1));
    }

    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        count(activations.get(logitsVertex));
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        score = model.score();
    }

    private void count(INDArray logits) {
        if (logits == null || teacherClasses == null) {
            return;
        }
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            int[] s = logits.argMax(1).toIntVector();
            int same = 0;
            for (int i = 0; i < s.length && i < teacherClasses.length; i++) {
                if (s[i] == teacherClasses[i]) {
                    same++;
                }
            }
            agreed = same;
        }
    }
}

package io.github.dsconv.eval;

/**
 * Accuracy of a model, and (with a reference model) how closely it follows it.
 *
 * @param top1          top-1 accuracy as a fraction
 * @param images        number of images evaluated
 * @param agreement     fraction of images where the model and the reference predict the same class, or null
 * @param logitsSqnrDb  SQNR of the logits against the reference's in dB, or null
 */
public record EvaluationResult(double top1, int images, Double agreement, Double logitsSqnrDb) {

    /** Summarises outputs, against a reference when one is given. */
    public static EvaluationResult of(Outputs model, Outputs reference) {
        if (reference == null) {
            return new EvaluationResult(model.top1(), model.size(), null, null);
        }
        return new EvaluationResult(model.top1(), model.size(), model.agreement(reference),
                model.logitsSqnrDb(reference));
    }
}

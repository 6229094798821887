/**
 * Search for non-uniform bit widths (one per quantized layer) with a multi-task Gaussian process, after
 * "Finding Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes" (Gennari do Nascimento, Costain
 * and Prisacariu, ECCV 2020). Pure math: no DL4J or ND4J types; linear algebra from Commons Math.
 *
 * <h2>Use</h2>
 * <pre>{@code
 * List<Task> tasks = List.of(new Task("0 epochs", 1), new Task("1 epoch", 2), new Task("2 epochs", 3),
 *         new Task("10 epochs", 11));                               // the last one is the target by default
 * SearchConfig config = SearchConfig.builder(layerCount, tasks)
 *         .curve(CurveKind.parse("bezier1"))
 *         .layerWeights(weightsPerLayer)                            // for bytes; default all 1
 *         .budget(62).seed(42)
 *         .rule(DecisionRule.defaults().withMaxBytes(limit))        // optional hard constraints
 *         .build();
 * BitSearch search = BitSearch.multiTask(config);                   // or singleTask / random (baselines)
 * Evaluator evaluator = (task, bits) -> accuracyAfter(epochs[task], bits);
 * History history = search.resume(saved, evaluator, step -> save(step)); // History.empty() to start
 * Decision decision = search.decide(history);
 * int[] bits = decision.best().orElseThrow().bits();
 * }</pre>
 * A {@link io.github.dsconv.search.History} (steps of task, {@code theta}, bits, value) is the whole state of a
 * search: each step re-fits the GP from it and draws its randomness from {@code (seed, step)}, so resuming a saved
 * history gives exactly the run that was interrupted. {@link io.github.dsconv.search.BitSearch#propose} exposes a
 * single step for callers that run the loop themselves.
 *
 * <h2>Pieces</h2>
 * <ul>
 *   <li>{@link io.github.dsconv.search.BitCurve}, {@link io.github.dsconv.search.CurveKind}: Bezier of degree 1-3
 *   and Chebyshev-4 curves over depth, {@code bits = 2 + min(6, floor(7 y))};</li>
 *   <li>{@link io.github.dsconv.search.MultiTaskGp}: exact GP with an intrinsic coregionalisation kernel,
 *   hyperparameters by L-BFGS on the log marginal likelihood with analytic gradients;</li>
 *   <li>{@link io.github.dsconv.search.Acquisition}: information gain about the target per cost, GP-UCB;</li>
 *   <li>{@link io.github.dsconv.search.DecisionRule}, {@link io.github.dsconv.search.Decision}: ranking of
 *   configurations by predicted value minus a memory penalty, under {@code maxBytes} / {@code maxDrop}.</li>
 * </ul>
 *
 * <h2>Where this differs from the paper</h2>
 * <ul>
 *   <li>Bits 2..8 from seven equal level bands instead of {@code 1 + floor(6y)} (1..7): DSConv layers have no 1-bit
 *   form.</li>
 *   <li>The Chebyshev parametrisation is not stated in the paper; {@link io.github.dsconv.search.ChebyshevCurve}
 *   defines it.</li>
 *   <li>Information gain uses the variance of the noisy observation of the cheap task (latent variance plus noise),
 *   not of the latent function; see {@link io.github.dsconv.search.Acquisition#informationGain}.</li>
 *   <li>The best (point, task) pair over all cheap tasks is chosen (the reference code kept the last task's
 *   point).</li>
 *   <li>Candidates whose bits were already evaluated on the task in question are skipped.</li>
 *   <li>For {@code d = 4} the 30-point grid has 810 000 points; scoring all of them (joint posterior of all tasks)
 *   took 12-14 s per step with 62 observations and 4 tasks on a shared 2-core machine, so each step scores
 *   {@link io.github.dsconv.search.SearchConfig#maxCandidates()} (5000) grid points drawn from {@code (seed, step)}.
 *   The decision still predicts the whole grid (posterior mean only, about 1.5 s once).</li>
 *   <li>The decision penalises bytes relative to uniform W4 rather than summed bits, equal to the paper's rule when
 *   layers have equal sizes; {@link io.github.dsconv.search.DecisionRule#paper()} keeps the paper's rule.</li>
 *   <li>The random start is evaluated on the target task, and GP-UCB uses the search step as its {@code t}.</li>
 * </ul>
 */
package io.github.dsconv.search;

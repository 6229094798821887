package io.github.dsconv.bench;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.engine.graph.ExecutionPlan;
import io.github.dsconv.inference.DsconvInference;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.zoo.ZooModels;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A steady loop of the integer engine alone, to run under a sampling profiler ({@code perf record}): full-size
 * random-init ResNet-50 (or another zoo model) converted W4A8 B=32, batches through {@link DsconvInference}.
 * Prints the median batch time. Not a benchmark of record (use {@code ./dsconv bench}, which compares with FP32).
 *
 * <pre>java -cp ... io.github.dsconv.bench.EngineProfileRun [model] [batch] [iterations]</pre>
 */
public final class EngineProfileRun {

    private EngineProfileRun() {
    }

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "resnet50";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int iterations = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        ComputationGraph fp32 = ZooModels.build(model, 1000, 42);
        ComputationGraph dsconv = new DSConvConverter(
                ConversionPlan.uniform(new LayerSpec(4, 8, 32))).convert(fp32).network();
        Nd4j.getRandom().setSeed(1);
        INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 224, 224);
        try (DsconvInference inf = DsconvInference.of(dsconv, 1)) {
            System.out.println(inf.report());
            long[] ns = new long[iterations];
            for (int i = 0; i < 3; i++) {
                inf.output(x);
            }
            for (int i = 0; i < iterations; i++) {
                long t0 = System.nanoTime();
                inf.output(x);
                ns[i] = System.nanoTime() - t0;
            }
            java.util.Arrays.sort(ns);
            double ms = ns[iterations / 2] / 1e6;
            System.out.printf("%s batch %d: median %.1f ms, %.2f images/s%n", model, batch, ms, batch * 1000 / ms);
            // Where one more pass spends its time, by step kind (the plan's own timings).
            ExecutionPlan plan = ExecutionPlan.compile(dsconv);
            plan.output(x);
            java.util.Map<String, Double> byKind = new java.util.TreeMap<>();
            for (ExecutionPlan.StepTime t : plan.timings(x)) {
                byKind.merge(t.kind().replaceAll(" \\(.*", "").replaceAll("^conv .*", "conv"), t.millis(),
                        Double::sum);
            }
            byKind.forEach((k, v) -> System.out.printf("  %-40s %8.1f ms%n", k, v));
        }
    }
}

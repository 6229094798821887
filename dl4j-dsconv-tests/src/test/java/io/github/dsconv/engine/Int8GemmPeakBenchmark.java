package io.github.dsconv.engine;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The machine's int8 GEMM peak, the yardstick of the per-layer GOPS in {@code ResNet50LayerBenchmark}: oneDNN's s8
 * GEMM (u8 x s8 -> s32, the engine's own {@link OneDnnGemm}) on one large compute-bound product
 * {@code [rows x k] x [k x n]}, {@code 2 k n rows} operations a call. Run with {@code -t 2} for both cores (each JMH
 * thread has its own oneDNN stream and buffers):
 * <pre>
 *   java -cp dl4j-dsconv-tests/target/test-classes:$(cat dl4j-dsconv-tests/target/cp.txt) \
 *     io.github.dsconv.engine.Int8GemmPeakBenchmark -t 2 -wi 2 -w 1 -i 5 -r 1
 * </pre>
 * GOPS = {@code 2 * rows * k * n * threads / time}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Int8GemmPeakBenchmark {

    @Param({"1024"})
    public int rows;

    @Param({"2048"})
    public int k;

    @Param({"1024"})
    public int n;

    private OneDnnGemm gemm;
    private byte[] src;
    private byte[] weights;
    private int[] dst;

    @Setup
    public void setup() {
        gemm = new OneDnnGemm(k, n, rows, 1);
        SplittableRandom r = new SplittableRandom(3);
        src = new byte[rows * k];
        weights = new byte[k * n];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte) r.nextInt(0, 128); // post-ReLU mantissas: unsigned, no shift needed
        }
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (byte) r.nextInt(-8, 8); // W4
        }
        dst = new int[rows * n];
        System.err.printf("int8 GEMM %d x %d x %d: %.3f G ops a call%n", rows, k, n, 2.0 * rows * k * n / 1e9);
    }

    @Benchmark
    public int[] oneDnnS8Gemm() {
        gemm.multiply(1, rows, src, weights, dst, true);
        return dst;
    }

    public static void main(String[] args) throws Exception {
        org.openjdk.jmh.Main.main(args);
    }
}

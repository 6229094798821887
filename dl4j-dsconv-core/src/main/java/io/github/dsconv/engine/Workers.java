package io.github.dsconv.engine;

import org.nd4j.nativeblas.NativeOpsHolder;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * The integer engine's worker threads: one per available processor. Each worker limits OpenMP to one thread for its
 * own native calls, so that oneDNN runs each small GEMM on the calling worker: the parallelism is over tiles of
 * output positions, with no OpenMP fork and barrier per GEMM (on a busy machine a barrier waits for a descheduled
 * thread's next time slice). ND4J's own calls from other threads keep their thread count.
 */
public final class Workers {

    private static final AtomicInteger THREADS = new AtomicInteger();

    private static final ForkJoinPool POOL = new ForkJoinPool(Runtime.getRuntime().availableProcessors(),
            pool -> {
                ForkJoinWorkerThread t = new ForkJoinWorkerThread(pool) {
                    @Override
                    protected void onStart() {
                        super.onStart();
                        singleThreadedOpenMp();
                    }
                };
                // getPoolIndex() is not assigned yet here (every worker would be "-0").
                t.setName("dsconv-integer-" + THREADS.getAndIncrement());
                t.setDaemon(true);
                return t;
            }, null, false);

    private Workers() {
    }

    /** The number of worker threads. */
    public static int count() {
        return POOL.getParallelism();
    }

    /** Runs {@code task(0 .. count-1)} on the workers and waits (a single task runs on the calling thread). */
    public static void run(int count, IntConsumer task) {
        if (count == 1) {
            task.accept(0);
            return;
        }
        POOL.submit(() -> IntStream.range(0, count).parallel().forEach(task)).join();
    }

    private static void singleThreadedOpenMp() {
        try {
            // omp_set_num_threads acts on the calling thread only; libnd4j and oneDNN share one libgomp.
            NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(1);
        } catch (Throwable t) {
            // Without it oneDNN uses its default thread count: slower under load, still correct.
        }
    }
}

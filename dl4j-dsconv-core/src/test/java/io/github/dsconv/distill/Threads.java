package io.github.dsconv.distill;

import org.nd4j.linalg.factory.Environment;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One ND4J and BLAS thread until closed, then the previous settings again. The tests' machine has 2 cores shared
 * with other jobs; two OpenMP threads competing for them made the same work about four times slower.
 */
final class Threads implements AutoCloseable {

    private final int max;
    private final int master;
    private final int blas;

    private Threads() {
        Environment env = Nd4j.getEnvironment();
        max = env.maxThreads();
        master = env.maxMasterThreads();
        blas = Nd4j.factory().blas().getMaxThreads();
        env.setMaxThreads(1);
        env.setMaxMasterThreads(1);
        Nd4j.factory().blas().setMaxThreads(1);
    }

    static Threads one() {
        return new Threads();
    }

    @Override
    public void close() {
        Environment env = Nd4j.getEnvironment();
        env.setMaxThreads(max);
        env.setMaxMasterThreads(master);
        Nd4j.factory().blas().setMaxThreads(blas);
    }
}

package io.github.dsconv.inference;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.engine.NativeKernels;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The deployment API: same outputs as the float simulation (bit for bit with the native kernel, to 1e-5 on the GEMM
 * route as the engine tests bound it), the flat float API equal to the array one, concurrent callers on two replicas
 * getting exactly the sequential results, the stated footprint, and bad input refused.
 */
class DsconvInferenceTest {

    @TempDir
    Path tmp;

    private static Model converted(boolean graph, CNN2DFormat f) {
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4, 8, 16));
        return graph ? new DSConvConverter(plan).convert(TinyNets.residualGraph(4, f)).network()
                : new DSConvConverter(plan).convert(TinyNets.mln(3, f)).network();
    }

    private static INDArray simulate(Model m, INDArray x) {
        return m instanceof ComputationGraph cg ? cg.outputSingle(false, x) : ((MultiLayerNetwork) m).output(x);
    }

    private static INDArray images(long seed, CNN2DFormat f, int n, int side) {
        return TinyNets.random(seed, DataType.FLOAT, f == CNN2DFormat.NCHW ? new long[] {n, 3, side, side}
                : new long[] {n, side, side, 3});
    }

    @Test
    void outputsEqualTheFloatSimulation() {
        for (CNN2DFormat f : CNN2DFormat.values()) {
            for (boolean graph : new boolean[] {false, true}) {
                Model m = converted(graph, f);
                int side = graph ? 8 : 9;
                INDArray x = images(9, f, 4, side);
                INDArray expect = simulate(m, x).dup();
                try (DsconvInference inf = DsconvInference.of(m, 1)) {
                    assertTrue(inf.report().integerLayers().size() >= 2, inf.report().toString());
                    INDArray got = inf.output(x);
                    double rel = got.sub(expect).amaxNumber().doubleValue() / expect.amaxNumber().doubleValue();
                    assertTrue(rel <= (NativeKernels.selected() != null ? 0 : 1e-5), f + " graph=" + graph + ": " + rel);
                    float[] flat = inf.output(x.dup('c').data().asFloat(), 4, side, side);
                    assertArrayEquals(got.data().asFloat(), flat, 0f, "the flat API is the array API");
                    // The logits through the plan's head input: the network's own (engine on), bit for bit.
                    float[] logits = inf.logits(x).data().asFloat();
                    assertArrayEquals(Logits.of(inf.network(), x).dup().data().asFloat(), logits, 0f,
                            f + " graph=" + graph + " logits");
                }
            }
        }
    }

    @Test
    void concurrentCallersGetTheSequentialResults() throws Exception {
        Model m = converted(true, CNN2DFormat.NHWC);
        List<INDArray> inputs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            inputs.add(images(100 + i, CNN2DFormat.NHWC, 1 + i % 3, 8));
        }
        try (DsconvInference inf = DsconvInference.of(m, 2)) {
            List<INDArray> expect = new ArrayList<>();
            for (INDArray x : inputs) {
                expect.add(inf.output(x));
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Boolean>> futures = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int offset = t;
                    futures.add(pool.submit(() -> {
                        boolean same = true;
                        for (int r = 0; r < 5; r++) {
                            for (int i = 0; i < inputs.size(); i++) {
                                int k = (i + offset) % inputs.size();
                                same &= expect.get(k).equals(inf.output(inputs.get(k)));
                            }
                        }
                        return same;
                    }));
                }
                for (Future<Boolean> fu : futures) {
                    assertTrue(fu.get(), "a concurrent result differs from the sequential one");
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void loadsAFileAndStatesItsFootprint() throws Exception {
        Model m = converted(true, CNN2DFormat.NCHW);
        Path file = tmp.resolve("m.zip");
        ModelFiles.save(m, file, false);
        try (DsconvInference inf = DsconvInference.load(file, 3)) {
            MemoryFootprint fp = inf.footprint();
            assertEquals(3, fp.replicas());
            assertEquals(4L * m.params().length(), fp.parameterBytes());
            assertEquals(inf.report().integerConvWeightBytes(), fp.engineWeightBytes());
            assertEquals(3 * (fp.parameterBytes() + fp.engineWeightBytes()), fp.totalBytes());
            INDArray x = images(3, CNN2DFormat.NCHW, 2, 8);
            assertEquals(2, inf.output(x).size(0));
        }
    }

    @Test
    void refusesBadInput() {
        Model m = converted(false, CNN2DFormat.NCHW);
        assertThrows(IllegalArgumentException.class, () -> DsconvInference.of(m, 0));
        assertThrows(IllegalArgumentException.class, () -> DsconvInference.of(null, 1));
        DsconvInference inf = DsconvInference.of(m, 1);
        assertThrows(IllegalArgumentException.class, () -> inf.output(Nd4j.zeros(DataType.FLOAT, 2, 1, 9, 9)),
                "wrong channels");
        assertThrows(IllegalArgumentException.class, () -> inf.output(Nd4j.zeros(DataType.FLOAT, 2, 27)),
                "not rank 4");
        INDArray nan = images(1, CNN2DFormat.NCHW, 1, 9);
        nan.putScalar(0, Float.NaN);
        assertThrows(IllegalArgumentException.class, () -> inf.output(nan));
        INDArray inf2 = images(1, CNN2DFormat.NCHW, 1, 9);
        inf2.putScalar(100, Float.NEGATIVE_INFINITY);
        assertThrows(IllegalArgumentException.class, () -> inf.output(inf2), "infinite");
        inf.output(images(1, CNN2DFormat.NCHW, 1, 9)); // finite values pass
        assertThrows(IllegalArgumentException.class, () -> inf.output(new float[10], 1, 9, 9), "wrong length");
        assertThrows(IllegalArgumentException.class, () -> inf.output(new float[243], 1), "size not recorded");
        assertThrows(IllegalArgumentException.class, () -> inf.output(new float[243], 1, 0, 9), "empty size");
        inf.close();
        assertThrows(IllegalStateException.class, () -> inf.output(images(1, CNN2DFormat.NCHW, 1, 9)));
    }
}

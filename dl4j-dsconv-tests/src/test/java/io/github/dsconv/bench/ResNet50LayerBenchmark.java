package io.github.dsconv.bench;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.engine.Backend;
import io.github.dsconv.engine.EngineOptions;
import io.github.dsconv.engine.EngineReport;
import io.github.dsconv.engine.IntegerEngine;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;
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
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.concurrent.TimeUnit;

/**
 * One ResNet50 convolution at batch {@code batch}: DL4J's FP32 {@code ConvolutionLayer} against the same layer
 * converted to DSConv (W4 A8 B32) on the integer engine (the native fused kernel, and the GEMM route on oneDNN and
 * on plain Java) and on the float simulation. The setup prints the layer's int8 multiply-accumulates per call, so
 * {@code 2 * MACs / time} is the layer's integer GOPS. Shapes ({@code shape}): {@code 3x3} = stage 2's 3x3 conv, 64 -> 64 on 56x56 (Same); {@code 1x1} =
 * stage 2's expanding 1x1 conv, 64 -> 256 on 56x56; {@code 1x1s4} = stage 4's reducing 1x1 conv, 1024 -> 256 on
 * 14x14.
 *
 * <p>Run (not part of the build's tests):
 * <pre>
 *   mvn -q -pl dl4j-dsconv-tests -am test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 *   java -cp dl4j-dsconv-tests/target/test-classes:$(cat dl4j-dsconv-tests/target/cp.txt) \
 *       io.github.dsconv.bench.ResNet50LayerBenchmark [JMH options, e.g. -p shape=3x3 -i 5]
 * </pre>
 * (The reactor build ({@code -am}) puts this checkout's modules on the class path, not installed snapshots.)
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 10, time = 2)
@Fork(1)
public class ResNet50LayerBenchmark {

    @Param({"3x3", "1x1", "1x1s4"})
    public String shape;

    @Param({"8"})
    public int batch;

    private Layer fp32;
    private Layer integerNative;
    private Layer integerOneDnn;
    private Layer integerJava;
    private Layer floatSim;
    private INDArray x;

    @Setup
    public void setUp() {
        int k = "3x3".equals(shape) ? 3 : 1;
        int nIn = "1x1s4".equals(shape) ? 1024 : 64;
        int nOut = "3x3".equals(shape) ? 64 : 256;
        int side = "1x1s4".equals(shape) ? 14 : 56;
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(1)
                .weightInit(WeightInit.RELU).convolutionMode(ConvolutionMode.Same).list()
                .layer(new ConvolutionLayer.Builder(k, k).nOut(nOut).activation(Activation.IDENTITY).name("c")
                        .build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(side, side, nIn)).build());
        net.init();
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4, 8, 32));
        MultiLayerNetwork a = new DSConvConverter(plan).convert(net).network();
        MultiLayerNetwork b = new DSConvConverter(plan).convert(net).network();
        MultiLayerNetwork c = new DSConvConverter(plan).convert(net).network();
        MultiLayerNetwork d = new DSConvConverter(plan).convert(net).network();
        EngineOptions gemmRoute = EngineOptions.gemmRoute();
        IntegerEngine.enable(a, Backend.ONEDNN, gemmRoute);
        IntegerEngine.enable(b, Backend.JAVA, gemmRoute);
        EngineReport n = IntegerEngine.enable(d, Backend.ONEDNN, EngineOptions.defaults());
        integerNative = d.getLayer(0);
        long macs = (long) batch * side * side * nOut * nIn * k * k;
        System.err.printf("shape %s batch %d: %.3f G int8 MACs a call; native kernel %s%n", shape, batch, macs / 1e9,
                n.kernel());
        fp32 = net.getLayer(0);
        integerOneDnn = a.getLayer(0);
        integerJava = b.getLayer(0);
        floatSim = c.getLayer(0);
        Nd4j.getRandom().setSeed(2);
        // Post-ReLU-like activations: non-negative, a quarter of them zero.
        x = Nd4j.rand(DataType.FLOAT, batch, nIn, side, side).subi(0.25).muli(Nd4j.rand(DataType.FLOAT, batch, nIn,
                side, side).gt(0.25).castTo(DataType.FLOAT));
    }

    private INDArray run(Layer l) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        l.setInput(x, mgr);
        return l.activate(false, mgr);
    }

    @Benchmark
    public INDArray fp32Dl4j() {
        return run(fp32);
    }

    @Benchmark
    public INDArray integerNative() {
        return run(integerNative);
    }

    @Benchmark
    public INDArray integerOneDnn() {
        return run(integerOneDnn);
    }

    @Benchmark
    public INDArray integerJava() {
        return run(integerJava);
    }

    @Benchmark
    public INDArray floatSimulation() {
        return run(floatSim);
    }

    /** Runs every benchmark of this class (pass JMH options to narrow it, e.g. {@code -p shape=3x3}). */
    public static void main(String[] args) throws RunnerException {
        if (args.length > 0) {
            try {
                org.openjdk.jmh.Main.main(args);
            } catch (Exception e) {
                throw new RunnerException(e.getMessage(), e);
            }
            return;
        }
        new Runner(new OptionsBuilder().include(ResNet50LayerBenchmark.class.getSimpleName()).build()).run();
    }
}

package io.github.dsconv.zoo;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CacheMode;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.zoo.ModelMetaData;
import org.deeplearning4j.zoo.ZooType;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * DenseNet-121 as a DL4J zoo model: Huang, Liu, van der Maaten and Weinberger, "Densely Connected Convolutional
 * Networks", CVPR 2017, Table 1 (DenseNet-BC, growth rate k = 32, compression 0.5).
 *
 * <p>Layers: conv 7x7/2 (64) - BN - ReLU - max pool 3x3/2, then dense blocks of 6, 12, 24 and 16 bottleneck layers
 * separated by transitions, then BN - ReLU - global average pool - fully connected softmax. A bottleneck layer is
 * BN - ReLU - conv 1x1 (4k) - BN - ReLU - conv 3x3 (k), and its k new maps are concatenated (MergeVertex, channel
 * axis) to its input. A transition is BN - ReLU - conv 1x1 (half the channels) - average pool 2x2/2. Every
 * convolution is a bias-free plain {@link ConvolutionLayer}; all layers use {@link ConvolutionMode#Same}, so a
 * 224x224 input gives 112, 56, 28, 14 and 7 pixel maps. Channels: 64 -&gt; 256 -&gt; 128 -&gt; 512 -&gt; 256
 * -&gt; 1024 -&gt; 512 -&gt; 1024.
 *
 * <p>Parameters for 1000 classes: 8,062,504 in DL4J (derivation on {@link #PARAMS_IMAGENET}). 120 convolutions.
 * No pretrained weights exist: {@link #pretrainedUrl} is null.
 */
public final class DenseNet121 extends UntrainedGraphModel {

    /**
     * Exact DL4J parameter count for 1000 classes.
     * <pre>
     * conv and fc weights (no biases except the fc's):
     *   stem 7*7*3*64                                                             =     9,408
     *   bottleneck layer with c input channels: c*128 + 9*128*32 = 128c + 36,864
     *     inputs c: block 1 64..224 (6 layers, sum 864), block 2 128..480 (12, sum 3,648),
     *     block 3 256..992 (24, sum 14,976), block 4 512..992 (16, sum 12,032): sum 31,520
     *     128 * 31,520 + 58 * 36,864 = 4,034,560 + 2,138,112                      = 6,172,672
     *   transitions 256*128 + 512*256 + 1024*512                                  =   688,128
     *   fc 1024*1000 + 1000                                                       = 1,025,000
     *   total                                                                     = 7,895,208
     * BN channels (121 BN layers): stem 64 + bottleneck inputs 31,520 + bottleneck middles 58*128 = 7,424
     *   + transition inputs 256 + 512 + 1024 + final 1024                         =    41,824
     * </pre>
     * torchvision counts 2 parameters per BN channel (gamma, beta; the running mean and variance are buffers):
     * 7,895,208 + 2 * 41,824 = 7,978,856. DL4J's BatchNormalization stores the running mean and variance as
     * parameters too (4 per channel): 7,895,208 + 4 * 41,824 = 8,062,504, i.e. 83,648 more than torchvision's
     * figure for the same network, none of them trained by gradient descent.
     */
    public static final long PARAMS_IMAGENET = 8_062_504L;

    /** torchvision's count for the same network (BN gamma and beta only). */
    public static final long PARAMS_IMAGENET_TORCHVISION = 7_978_856L;

    /** Convolutions: 1 stem + 2 per bottleneck layer * 58 + 3 transitions. */
    public static final int CONV_LAYERS = 120;

    /** Bottleneck layers per dense block (DenseNet-121). */
    private static final int[] BLOCKS = {6, 12, 24, 16};

    private final long seed;
    private int[] inputShape;
    private final int numClasses;
    private final int growthRate;
    private final IUpdater updater;
    private final double l2;
    private final CacheMode cacheMode;
    private final WorkspaceMode workspaceMode;

    private DenseNet121(Builder b) {
        this.seed = b.seed;
        this.inputShape = b.inputShape.clone();
        this.numClasses = b.numClasses;
        this.growthRate = b.growthRate;
        this.updater = b.updater;
        this.l2 = b.l2;
        this.cacheMode = b.cacheMode;
        this.workspaceMode = b.workspaceMode;
    }

    /** A builder with the defaults stated on each setter. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder for {@link DenseNet121}. */
    public static final class Builder {
        private long seed = 1234;
        private int[] inputShape = {3, 224, 224};
        private int numClasses = 1000;
        private int growthRate = 32;
        private IUpdater updater = new Nesterovs(0.1, 0.9);
        private double l2 = 1e-4;
        private CacheMode cacheMode = CacheMode.NONE;
        private WorkspaceMode workspaceMode = WorkspaceMode.ENABLED;

        private Builder() {
        }

        /** Weight-initialisation seed. Defaults to 1234 (as DL4J's zoo models). */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Input shape {channels, height, width}. Defaults to {3, 224, 224}. */
        public Builder inputShape(int[] inputShape) {
            this.inputShape = inputShape.clone();
            return this;
        }

        /** Number of classes of the softmax output. Defaults to 1000. */
        public Builder numClasses(int numClasses) {
            this.numClasses = numClasses;
            return this;
        }

        /** Growth rate k (new maps per bottleneck layer; the stem has 2k). Defaults to 32. */
        public Builder growthRate(int growthRate) {
            this.growthRate = growthRate;
            return this;
        }

        /** Updater. Defaults to Nesterov momentum 0.9 with learning rate 0.1 (Section 4.2 of the paper). */
        public Builder updater(IUpdater updater) {
            this.updater = updater;
            return this;
        }

        /** L2 regularisation coefficient. Defaults to 1e-4 (the paper's weight decay). */
        public Builder l2(double l2) {
            this.l2 = l2;
            return this;
        }

        /** DL4J cache mode. Defaults to {@link CacheMode#NONE}. */
        public Builder cacheMode(CacheMode cacheMode) {
            this.cacheMode = cacheMode;
            return this;
        }

        /** Training and inference workspace mode. Defaults to {@link WorkspaceMode#ENABLED}. */
        public Builder workspaceMode(WorkspaceMode workspaceMode) {
            this.workspaceMode = workspaceMode;
            return this;
        }

        /** Validates and builds. */
        public DenseNet121 build() {
            if (numClasses < 1) {
                throw new IllegalArgumentException("numClasses must be positive, got " + numClasses);
            }
            if (growthRate < 1) {
                throw new IllegalArgumentException("growthRate must be positive, got " + growthRate);
            }
            if (inputShape == null || inputShape.length != 3 || inputShape[0] < 1 || inputShape[1] < 1
                    || inputShape[2] < 1) {
                throw new IllegalArgumentException("inputShape must be {channels, height, width} > 0");
            }
            if (updater == null || cacheMode == null || workspaceMode == null) {
                throw new IllegalArgumentException("updater, cacheMode and workspaceMode must not be null");
            }
            return new DenseNet121(this);
        }
    }

    /** The graph configuration: input "input", output "output". */
    @Override
    public ComputationGraphConfiguration.GraphBuilder graphBuilder() {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .updater(updater)
                .l2(l2)
                .weightInit(WeightInit.RELU)
                .activation(Activation.IDENTITY)
                .convolutionMode(ConvolutionMode.Same)
                .cacheMode(cacheMode)
                .trainingWorkspaceMode(workspaceMode)
                .inferenceWorkspaceMode(workspaceMode)
                .graphBuilder()
                .addInputs("input")
                .setInputTypes(InputType.convolutional(inputShape[1], inputShape[2], inputShape[0]));

        int channels = 2 * growthRate;
        g.addLayer("stem_conv", new ConvolutionLayer.Builder(7, 7).stride(2, 2).nOut(channels).hasBias(false)
                .build(), "input");
        String x = bnRelu(g, "stem", "stem_conv");
        g.addLayer("stem_pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2)
                .build(), x);
        x = "stem_pool";
        for (int b = 0; b < BLOCKS.length; b++) {
            x = denseBlock(g, "db" + (b + 1), x, BLOCKS[b], growthRate);
            channels += BLOCKS[b] * growthRate;
            if (b < BLOCKS.length - 1) {
                channels /= 2;
                x = transition(g, "tr" + (b + 1), x, channels);
            }
        }
        x = bnRelu(g, "final", x);
        g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
        g.addLayer("output", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(numClasses)
                .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build(), "gap");
        g.setOutputs("output");
        return g;
    }

    /**
     * Adds a dense block of {@code layers} bottleneck layers, each BN - ReLU - conv 1x1 (4 * growthRate) - BN -
     * ReLU - conv 3x3 (growthRate) whose output is concatenated to its input. Vertices of layer j (from 1) are
     * named {@code <name>_l<j>_bn1}, {@code _relu1}, {@code _conv1}, {@code _bn2}, {@code _relu2}, {@code _conv2}
     * and the merge {@code <name>_l<j>_cat}.
     *
     * @return the name of the last merge vertex; it has {@code in channels + layers * growthRate} channels
     */
    public static String denseBlock(ComputationGraphConfiguration.GraphBuilder g, String name, String in, int layers,
                                    int growthRate) {
        String x = in;
        for (int j = 1; j <= layers; j++) {
            String l = name + "_l" + j;
            String a = bnRelu(g, l, x, "1");
            g.addLayer(l + "_conv1", new ConvolutionLayer.Builder(1, 1).nOut(4 * growthRate).hasBias(false)
                    .activation(Activation.IDENTITY).build(), a);
            a = bnRelu(g, l, l + "_conv1", "2");
            g.addLayer(l + "_conv2", new ConvolutionLayer.Builder(3, 3).nOut(growthRate).hasBias(false)
                    .activation(Activation.IDENTITY).build(), a);
            // Pairwise concatenation equals concatenating all earlier maps: the chain keeps their order.
            g.addVertex(l + "_cat", new MergeVertex(), x, l + "_conv2");
            x = l + "_cat";
        }
        return x;
    }

    /**
     * Adds a transition: BN - ReLU - conv 1x1 ({@code nOut}) - average pool 2x2/2, named {@code <name>_bn},
     * {@code _relu}, {@code _conv}, {@code _pool}. With an odd map size, Same mode pads and the padding is left
     * out of the average.
     *
     * @return the name of the pooling layer
     */
    public static String transition(ComputationGraphConfiguration.GraphBuilder g, String name, String in, int nOut) {
        String x = bnRelu(g, name, in);
        g.addLayer(name + "_conv", new ConvolutionLayer.Builder(1, 1).nOut(nOut).hasBias(false)
                .activation(Activation.IDENTITY).build(), x);
        g.addLayer(name + "_pool", new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(2, 2).stride(2, 2)
                .avgPoolIncludePadInDivisor(false).build(), name + "_conv");
        return name + "_pool";
    }

    /** Adds {@code <name>_bn} and {@code <name>_relu}; returns the ReLU's name. */
    public static String bnRelu(ComputationGraphConfiguration.GraphBuilder g, String name, String in) {
        return bnRelu(g, name, in, "");
    }

    private static String bnRelu(ComputationGraphConfiguration.GraphBuilder g, String name, String in,
                                 String suffix) {
        g.addLayer(name + "_bn" + suffix, new BatchNormalization.Builder().build(), in);
        g.addLayer(name + "_relu" + suffix, new ActivationLayer.Builder().activation(Activation.RELU).build(),
                name + "_bn" + suffix);
        return name + "_relu" + suffix;
    }

    /** Input shape, one output, type CNN. */
    @Override
    @SuppressWarnings("deprecation")
    public ModelMetaData metaData() {
        return new ModelMetaData(new int[][] {inputShape.clone()}, 1, ZooType.CNN);
    }

    /** Sets the input shape {channels, height, width} (first and only input). */
    @Override
    public void setInputShape(int[][] inputShape) {
        this.inputShape = inputShape[0].clone();
    }
}

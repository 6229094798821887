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
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.zoo.ModelMetaData;
import org.deeplearning4j.zoo.ZooType;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * GoogLeNet (Inception v1) as a DL4J zoo model: Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke and
 * Rabinovich, "Going Deeper with Convolutions", CVPR 2015, Table 1.
 *
 * <p>Layers: conv 7x7/2 (64) - max pool 3x3/2 - conv 1x1 (64) - conv 3x3 (192) - max pool 3x3/2 - inception 3a, 3b -
 * max pool 3x3/2 - inception 4a..4e - max pool 3x3/2 - inception 5a, 5b - global average pool - dropout 40% -
 * fully connected softmax. An inception module concatenates (MergeVertex, channel axis) four branches:
 * 1x1 | 1x1 reduce - 3x3 | 1x1 reduce - 5x5 | max pool 3x3/1 - 1x1 projection. Every convolution is a plain
 * {@link ConvolutionLayer} (so the DSConv rewriter converts all of them) with its bias and a ReLU, as in the paper;
 * all layers use {@link ConvolutionMode#Same}, so a 224x224 input gives 112, 56, 28, 14 and 7 pixel maps.
 * The two local response normalisations of the paper are left out: they have no parameters, later Inception
 * versions dropped them, and DL4J's LRN layer is not in this project's set of supported layers.
 *
 * <p>Parameters for 1000 classes without auxiliary heads: 6,998,552 (derivation on {@link #PARAMS_IMAGENET}).
 * 57 convolutions (59 with the auxiliary heads). No pretrained weights exist: {@link #pretrainedUrl} is null.
 */
public final class GoogLeNet extends UntrainedGraphModel {

    /**
     * Exact parameter count for 1000 classes, conv biases on, no batch norm, no auxiliary heads.
     * Sum of k*k*in*out + out per convolution, plus the classifier:
     * <pre>
     * stem   conv1 7x7 3-&gt;64: 9,472; conv2 1x1 64-&gt;64: 4,160; conv2 3x3 64-&gt;192: 110,784   =   124,416
     * inc3a  192: 64 | 96-&gt;128 | 16-&gt;32 | 32      (out 256)                                   =   163,696
     * inc3b  256: 128 | 128-&gt;192 | 32-&gt;96 | 64    (out 480)                                   =   388,736
     * inc4a  480: 192 | 96-&gt;208 | 16-&gt;48 | 64     (out 512)                                   =   376,176
     * inc4b  512: 160 | 112-&gt;224 | 24-&gt;64 | 64    (out 512)                                   =   449,160
     * inc4c  512: 128 | 128-&gt;256 | 24-&gt;64 | 64    (out 512)                                   =   510,104
     * inc4d  512: 112 | 144-&gt;288 | 32-&gt;64 | 64    (out 528)                                   =   605,376
     * inc4e  528: 256 | 160-&gt;320 | 32-&gt;128 | 128  (out 832)                                   =   868,352
     * inc5a  832: 256 | 160-&gt;320 | 32-&gt;128 | 128  (out 832)                                   = 1,043,456
     * inc5b  832: 384 | 192-&gt;384 | 48-&gt;128 | 128  (out 1024)                                  = 1,444,080
     * fc     1024*1000 + 1000                                                                 = 1,025,000
     * total                                                                                   = 6,998,552
     * </pre>
     * (e.g. inc3a = 192*64+64 + 192*96+96 + 9*96*128+128 + 192*16+16 + 25*16*32+32 + 192*32+32.)
     * The paper's "about 6.8M" leaves out biases. torchvision's GoogLeNet has 6,624,904 because it uses a 3x3
     * instead of a 5x5 kernel in the third branch, BN instead of conv biases, and counts BN as 2 params per channel.
     */
    public static final long PARAMS_IMAGENET = 6_998_552L;

    /**
     * Exact parameter count with {@code batchNorm(true)}, 1000 classes, no auxiliary heads: the 6,991,272 conv and
     * fc weights (no conv biases) plus 7,280 BN channels times DL4J's 4 parameters per channel (gamma, beta, mean,
     * variance).
     */
    public static final long PARAMS_IMAGENET_BN = 7_020_392L;

    /** Extra parameters of the two auxiliary heads at 1000 classes: 3,188,840 (after 4a) + 3,190,888 (after 4d). */
    public static final long PARAMS_AUX_IMAGENET = 6_379_728L;

    /** Convolutions without auxiliary heads: 3 in the stem and 6 in each of the 9 inception modules. */
    public static final int CONV_LAYERS = 57;

    /** Table 1 of the paper: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj for 3a..5b. */
    private static final int[][] MODULES = {
            {64, 96, 128, 16, 32, 32},
            {128, 128, 192, 32, 96, 64},
            {192, 96, 208, 16, 48, 64},
            {160, 112, 224, 24, 64, 64},
            {128, 128, 256, 24, 64, 64},
            {112, 144, 288, 32, 64, 64},
            {256, 160, 320, 32, 128, 128},
            {256, 160, 320, 32, 128, 128},
            {384, 192, 384, 48, 128, 128},
    };
    private static final String[] MODULE_NAMES = {"3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"};

    private final long seed;
    private int[] inputShape;
    private final int numClasses;
    private final IUpdater updater;
    private final double l2;
    private final CacheMode cacheMode;
    private final WorkspaceMode workspaceMode;
    private final boolean batchNorm;
    private final boolean auxClassifiers;

    private GoogLeNet(Builder b) {
        this.seed = b.seed;
        this.inputShape = b.inputShape.clone();
        this.numClasses = b.numClasses;
        this.updater = b.updater;
        this.l2 = b.l2;
        this.cacheMode = b.cacheMode;
        this.workspaceMode = b.workspaceMode;
        this.batchNorm = b.batchNorm;
        this.auxClassifiers = b.auxClassifiers;
    }

    /** A builder with the defaults stated on each setter. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder for {@link GoogLeNet}. */
    public static final class Builder {
        private long seed = 1234;
        private int[] inputShape = {3, 224, 224};
        private int numClasses = 1000;
        private IUpdater updater = new Nesterovs(1e-2, 0.9);
        private double l2 = 2e-4;
        private CacheMode cacheMode = CacheMode.NONE;
        private WorkspaceMode workspaceMode = WorkspaceMode.ENABLED;
        private boolean batchNorm = false;
        private boolean auxClassifiers = false;

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

        /** Number of classes of the softmax output(s). Defaults to 1000. */
        public Builder numClasses(int numClasses) {
            this.numClasses = numClasses;
            return this;
        }

        /**
         * Updater. Defaults to Nesterov momentum 0.9 with learning rate 0.01 (the paper trains with momentum 0.9;
         * BVLC's Caffe reproduction starts at 0.01).
         */
        public Builder updater(IUpdater updater) {
            this.updater = updater;
            return this;
        }

        /** L2 regularisation coefficient. Defaults to 2e-4 (the weight decay of BVLC's Caffe reproduction). */
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

        /**
         * Conv - BN - ReLU with bias-free convolutions instead of the paper's conv (with bias) - ReLU.
         * Defaults to false (the paper's v1 has no batch normalization).
         */
        public Builder batchNorm(boolean batchNorm) {
            this.batchNorm = batchNorm;
            return this;
        }

        /**
         * Adds the paper's two auxiliary classifiers after inception 4a and 4d (average pool 5x5/3, conv 1x1 128,
         * fc 1024, dropout 70%, softmax, loss weight 0.3). The graph then has 3 outputs: "output", "aux1", "aux2".
         * Defaults to false.
         */
        public Builder auxClassifiers(boolean auxClassifiers) {
            this.auxClassifiers = auxClassifiers;
            return this;
        }

        /** Validates and builds. */
        public GoogLeNet build() {
            if (numClasses < 1) {
                throw new IllegalArgumentException("numClasses must be positive, got " + numClasses);
            }
            if (inputShape == null || inputShape.length != 3 || inputShape[0] < 1 || inputShape[1] < 1
                    || inputShape[2] < 1) {
                throw new IllegalArgumentException("inputShape must be {channels, height, width} > 0");
            }
            // The auxiliary heads' 5x5 average pool needs at least a 5x5 map after four stride-2 steps.
            if (auxClassifiers && (ceilDiv(inputShape[1], 16) < 5 || ceilDiv(inputShape[2], 16) < 5)) {
                throw new IllegalArgumentException("auxClassifiers need an input of at least 65x65");
            }
            if (updater == null || cacheMode == null || workspaceMode == null) {
                throw new IllegalArgumentException("updater, cacheMode and workspaceMode must not be null");
            }
            return new GoogLeNet(this);
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** The graph configuration: input "input", outputs "output" (and "aux1", "aux2" with auxiliary heads). */
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

        String x = convUnit(g, "conv1", "input", 64, 7, 2, batchNorm);
        x = maxPool(g, "pool1", x, 3, 2);
        x = convUnit(g, "conv2r", x, 64, 1, 1, batchNorm);
        x = convUnit(g, "conv2", x, 192, 3, 1, batchNorm);
        x = maxPool(g, "pool2", x, 3, 2);
        for (int i = 0; i < MODULES.length; i++) {
            String name = "inc" + MODULE_NAMES[i];
            int[] m = MODULES[i];
            x = inception(g, name, x, m[0], m[1], m[2], m[3], m[4], m[5], batchNorm);
            if (auxClassifiers && (name.equals("inc4a") || name.equals("inc4d"))) {
                auxHead(g, name.equals("inc4a") ? "aux1" : "aux2", x);
            }
            if (name.equals("inc3b") || name.equals("inc4e")) {
                x = maxPool(g, name.equals("inc3b") ? "pool3" : "pool4", x, 3, 2);
            }
        }
        g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
        // DL4J's dropout argument is the RETAIN probability: 0.6 keeps 60%, i.e. the paper's 40% dropout.
        g.addLayer("dropout", new DropoutLayer.Builder(0.6).build(), "gap");
        g.addLayer("output", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(numClasses)
                .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build(), "dropout");
        if (auxClassifiers) {
            g.setOutputs("output", "aux1", "aux2");
        } else {
            g.setOutputs("output");
        }
        return g;
    }

    private void auxHead(ComputationGraphConfiguration.GraphBuilder g, String name, String in) {
        // Truncate: the paper's 14x14 -> 4x4 needs an unpadded 5x5/3 pool.
        g.addLayer(name + "_pool", new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(5, 5).stride(3, 3)
                .convolutionMode(ConvolutionMode.Truncate).build(), in);
        String x = convUnit(g, name + "_conv", name + "_pool", 128, 1, 1, batchNorm);
        g.addLayer(name + "_fc", new DenseLayer.Builder().nOut(1024).activation(Activation.RELU).build(), x);
        g.addLayer(name + "_dropout", new DropoutLayer.Builder(0.3).build(), name + "_fc");
        // A per-class weight of 0.3 on every class scales the loss (and its gradient) by the paper's 0.3.
        LossMCXENT weighted = new LossMCXENT(Nd4j.valueArrayOf(new long[] {1, numClasses}, 0.3f));
        g.addLayer(name, new OutputLayer.Builder(weighted).nOut(numClasses).activation(Activation.SOFTMAX)
                .weightInit(WeightInit.XAVIER).build(), name + "_dropout");
    }

    /**
     * Adds an inception module: the concatenation of 1x1 | 1x1 - 3x3 | 1x1 - 5x5 | max pool 3x3/1 - 1x1.
     * Vertices are named {@code <name>_b1_conv}, {@code <name>_b2r_conv}, {@code <name>_b2_conv},
     * {@code <name>_b3r_conv}, {@code <name>_b3_conv}, {@code <name>_b4_pool}, {@code <name>_b4_conv} (plus
     * {@code _bn}/{@code _relu} suffixes with batch norm) and the merge {@code <name>}.
     *
     * @param batchNorm conv (no bias) - BN - ReLU if true, conv (bias, ReLU) otherwise
     * @return the name of the merge vertex; it has {@code n1x1 + n3x3 + n5x5 + poolProj} channels
     */
    public static String inception(ComputationGraphConfiguration.GraphBuilder g, String name, String in, int n1x1,
                                   int n3x3Reduce, int n3x3, int n5x5Reduce, int n5x5, int poolProj,
                                   boolean batchNorm) {
        String b1 = convUnit(g, name + "_b1", in, n1x1, 1, 1, batchNorm);
        String b2 = convUnit(g, name + "_b2r", in, n3x3Reduce, 1, 1, batchNorm);
        b2 = convUnit(g, name + "_b2", b2, n3x3, 3, 1, batchNorm);
        String b3 = convUnit(g, name + "_b3r", in, n5x5Reduce, 1, 1, batchNorm);
        b3 = convUnit(g, name + "_b3", b3, n5x5, 5, 1, batchNorm);
        String b4 = maxPool(g, name + "_b4_pool", in, 3, 1);
        b4 = convUnit(g, name + "_b4", b4, poolProj, 1, 1, batchNorm);
        g.addVertex(name, new MergeVertex(), b1, b2, b3, b4);
        return name;
    }

    /**
     * Adds a k x k convolution {@code <name>_conv} followed by ReLU: with {@code batchNorm}, a bias-free conv,
     * {@code <name>_bn} and {@code <name>_relu}; otherwise the conv has a bias and the ReLU as its activation.
     *
     * @return the name of the last vertex added
     */
    public static String convUnit(ComputationGraphConfiguration.GraphBuilder g, String name, String in, int nOut,
                                  int k, int stride, boolean batchNorm) {
        ConvolutionLayer.Builder conv = new ConvolutionLayer.Builder(k, k).stride(stride, stride).nOut(nOut);
        if (!batchNorm) {
            g.addLayer(name + "_conv", conv.hasBias(true).activation(Activation.RELU).build(), in);
            return name + "_conv";
        }
        // A bias right before BN is redundant: BN's beta absorbs it.
        g.addLayer(name + "_conv", conv.hasBias(false).activation(Activation.IDENTITY).build(), in);
        g.addLayer(name + "_bn", new BatchNormalization.Builder().build(), name + "_conv");
        g.addLayer(name + "_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_bn");
        return name + "_relu";
    }

    private static String maxPool(ComputationGraphConfiguration.GraphBuilder g, String name, String in, int k,
                                  int stride) {
        g.addLayer(name, new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(k, k).stride(stride, stride)
                .build(), in);
        return name;
    }

    /** Input shape, number of outputs (1, or 3 with auxiliary heads) and type CNN. */
    @Override
    @SuppressWarnings("deprecation")
    public ModelMetaData metaData() {
        return new ModelMetaData(new int[][] {inputShape.clone()}, auxClassifiers ? 3 : 1, ZooType.CNN);
    }

    /** Sets the input shape {channels, height, width} (first and only input). */
    @Override
    public void setInputShape(int[][] inputShape) {
        this.inputShape = inputShape[0].clone();
    }
}

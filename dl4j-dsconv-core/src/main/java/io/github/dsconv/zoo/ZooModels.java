package io.github.dsconv.zoo;

import org.deeplearning4j.common.resources.DL4JResources;
import org.deeplearning4j.common.resources.ResourceType;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.zoo.PretrainedType;
import org.deeplearning4j.nn.weights.WeightInitRelu;
import org.deeplearning4j.zoo.ZooModel;
import org.deeplearning4j.zoo.model.ResNet50;
import org.deeplearning4j.zoo.model.VGG16;
import org.deeplearning4j.zoo.model.VGG19;

import java.io.File;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * The five full-size ImageNet families by name: {@code resnet50}, {@code vgg16}, {@code vgg19} from DL4J's zoo and
 * this package's {@code googlenet} and {@code densenet121}, built with random weights or (where DL4J publishes
 * them) loaded with pretrained ImageNet weights.
 */
public final class ZooModels {

    /** Known model names, in the order of the families' papers. */
    public static final List<String> NAMES = List.of("vgg16", "vgg19", "googlenet", "resnet50", "densenet121");

    private ZooModels() {
    }

    /**
     * Builds a full-size model with random weights and DL4J's default input 224x224x3 (NCHW). ResNet50 uses He
     * initialisation instead of DL4J's default (whose logits overflow to NaN).
     * DL4J's VGG16/VGG19 declare a flattened input type but also accept {@code [n, 3, 224, 224]}.
     *
     * @param name       one of {@link #NAMES} (case-insensitive)
     * @param numClasses classes of the softmax output
     * @param seed       weight-initialisation seed
     */
    public static ComputationGraph build(String name, int numClasses, long seed) {
        if (numClasses < 1) {
            throw new IllegalArgumentException("numClasses must be positive, got " + numClasses);
        }
        return switch (normalize(name)) {
            // DL4J's default ResNet50 init, TruncatedNormal(0, 0.5), overflows to NaN logits in FP32 on real
            // images after 50 layers; random-init ResNet50 uses He (ReLU) init so comparisons mean something.
            case "resnet50" -> ResNet50.builder().numClasses(numClasses).seed(seed).weightInit(new WeightInitRelu())
                    .build().init();
            case "vgg16" -> VGG16.builder().numClasses(numClasses).seed(seed).build().init();
            case "vgg19" -> VGG19.builder().numClasses(numClasses).seed(seed).build().init();
            case "googlenet" -> GoogLeNet.builder().numClasses(numClasses).seed(seed).build().init();
            case "densenet121" -> DenseNet121.builder().numClasses(numClasses).seed(seed).build().init();
            default -> throw unknown(name);
        };
    }

    /**
     * Number of layers whose configuration is exactly DL4J's {@link ConvolutionLayer} (subclasses such as
     * DSConv layers, depthwise or separable convolutions are not counted): what the DSConv rewriter would convert.
     */
    public static int convLayers(ComputationGraph graph) {
        int n = 0;
        for (GraphVertex v : graph.getConfiguration().getVertices().values()) {
            if (v instanceof LayerVertex lv && lv.getLayerConf().getLayer().getClass() == ConvolutionLayer.class) {
                n++;
            }
        }
        return n;
    }

    /**
     * Loads DL4J's pretrained weights through {@link ZooModel#initPretrained(PretrainedType)}, which downloads them
     * once into {@code ~/.deeplearning4j/models/<model>/} (base folder overridable with
     * {@code -Dorg.deeplearning4j.resources.directory}) and checks their checksum.
     *
     * @param name one of {@code resnet50}, {@code vgg16}, {@code vgg19} (case-insensitive)
     * @param type the weights' data set; DL4J has IMAGENET for all three (and CIFAR10 and VGGFACE for vgg16)
     * @throws IOException              if the weights cannot be downloaded or read (offline, bad checksum, bad
     *                                  file); the one-line message names the file a user can put in place
     * @throws IllegalArgumentException for an unknown name, for googlenet and densenet121 (DL4J has no weights for
     *                                  them) and for a type DL4J does not publish for the model
     */
    public static ComputationGraph pretrained(String name, PretrainedType type) throws IOException {
        String key = normalize(name);
        ZooModel<?> model = switch (key) {
            case "resnet50" -> ResNet50.builder().build();
            case "vgg16" -> VGG16.builder().build();
            case "vgg19" -> VGG19.builder().build();
            case "googlenet", "densenet121" -> throw new IllegalArgumentException("no pretrained weights exist in"
                    + " DL4J for " + key + "; load your own trained model with --weights FILE");
            default -> throw unknown(name);
        };
        if (type == null || !model.pretrainedAvailable(type)) {
            throw new IllegalArgumentException("DL4J has no " + type + " weights for " + key);
        }
        File cached = cacheFile(model, type);
        try {
            Model m = model.initPretrained(type);
            return (ComputationGraph) m;
        } catch (Exception e) {
            // DL4J's messages and the cause chain stay available through getCause(); the message itself is one
            // line a CLI can print as is.
            throw new IOException("cannot load pretrained " + key + " " + type + " weights (" + summary(e)
                    + "); download " + model.pretrainedUrl(type) + " and place it at " + cached.getAbsolutePath()
                    + " (DL4J checks its checksum), or set -Dorg.deeplearning4j.resources.directory", e);
        }
    }

    /**
     * Where DL4J looks for (and downloads) the pretrained file: {@code <resources dir>/models/<lower-case class
     * name>/<file name of the URL>}, as in {@link ZooModel#initPretrained(PretrainedType)}.
     */
    private static File cacheFile(ZooModel<?> model, PretrainedType type) {
        File dir = DL4JResources.getDirectory(ResourceType.ZOO_MODEL, model.modelName());
        return new File(dir, new File(model.pretrainedUrl(type)).getName());
    }

    private static String summary(Throwable e) {
        String msg = e.getMessage();
        if (msg == null || msg.isBlank()) {
            return e.getClass().getSimpleName();
        }
        String firstLine = msg.strip().lines().findFirst().orElse("");
        return e.getClass().getSimpleName() + ": " + firstLine;
    }

    private static String normalize(String name) {
        if (name == null) {
            throw unknown(null);
        }
        return name.strip().toLowerCase(Locale.ROOT);
    }

    private static IllegalArgumentException unknown(String name) {
        return new IllegalArgumentException("unknown model '" + name + "'; expected one of "
                + String.join(", ", NAMES));
    }
}

package io.github.dsconv.zoo;

import io.github.dsconv.zoo.small.SmallFamilies;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.common.resources.DL4JResources;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.zoo.PretrainedType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Full-size models are built one per test (up to ~550 MB of parameters) and dropped at its end. */
class ZooModelsTest {

    private static void assertSoftmaxRows(INDArray out, int rows, int classes) {
        assertArrayEquals(new long[] {rows, classes}, out.shape());
        INDArray sums = out.sum(1);
        for (int i = 0; i < rows; i++) {
            assertEquals(1.0, sums.getDouble(i), 1e-4, "row " + i);
        }
        assertTrue(out.minNumber().doubleValue() >= 0);
    }

    private static void assertMap(ComputationGraph net, String vertex, int h, int w, int c) {
        InputType.InputTypeConvolutional t = (InputType.InputTypeConvolutional) net.getConfiguration()
                .getLayerActivationTypes(InputType.convolutional(224, 224, 3)).get(vertex);
        assertEquals(List.of((long) h, (long) w, (long) c), List.of(t.getHeight(), t.getWidth(), t.getChannels()),
                vertex);
    }

    @Test
    void googlenetHasTheHandDerivedParameterCountAndConvolutions() {
        ComputationGraph net = ZooModels.build("googlenet", 1000, 42);
        assertEquals(6_998_552L, GoogLeNet.PARAMS_IMAGENET);
        assertEquals(GoogLeNet.PARAMS_IMAGENET, net.numParams());
        assertEquals(7.0e6, net.numParams(), 0.02 * 7.0e6);
        assertEquals(57, ZooModels.convLayers(net));
        assertEquals(GoogLeNet.CONV_LAYERS, ZooModels.convLayers(net));
        assertMap(net, "inc3b", 28, 28, 480);
        assertMap(net, "inc5b", 7, 7, 1024);
        INDArray x = TinyNets.random(7, DataType.FLOAT, 1, 3, 224, 224);
        assertSoftmaxRows(net.outputSingle(x), 1, 1000);
    }

    @Test
    void googlenetVariants() {
        ComputationGraph bn = GoogLeNet.builder().batchNorm(true).build().init();
        assertEquals(GoogLeNet.PARAMS_IMAGENET_BN, bn.numParams());
        assertEquals(57, ZooModels.convLayers(bn));
        bn = null;
        ComputationGraph aux = GoogLeNet.builder().auxClassifiers(true).build().init();
        assertEquals(GoogLeNet.PARAMS_IMAGENET + GoogLeNet.PARAMS_AUX_IMAGENET, aux.numParams());
        assertEquals(13_378_280L, aux.numParams());
        assertEquals(59, ZooModels.convLayers(aux));
        assertEquals(3, aux.getNumOutputArrays());
        assertThrows(IllegalArgumentException.class, () -> GoogLeNet.builder().numClasses(0).build());
        assertThrows(IllegalArgumentException.class,
                () -> GoogLeNet.builder().auxClassifiers(true).inputShape(new int[] {3, 32, 32}).build());
    }

    @Test
    void densenet121HasTheHandDerivedParameterCountAndConvolutions() {
        ComputationGraph net = ZooModels.build("densenet121", 1000, 42);
        assertEquals(8_062_504L, DenseNet121.PARAMS_IMAGENET);
        assertEquals(DenseNet121.PARAMS_IMAGENET, net.numParams());
        // DL4J keeps BN's running mean and variance as parameters: 2 more per BN channel (41,824 channels).
        assertEquals(DenseNet121.PARAMS_IMAGENET_TORCHVISION + 2 * 41_824, net.numParams());
        assertEquals(8.0e6, net.numParams(), 0.02 * 8.0e6);
        assertEquals(120, ZooModels.convLayers(net));
        assertEquals(DenseNet121.CONV_LAYERS, ZooModels.convLayers(net));
        assertMap(net, "db1_l6_cat", 56, 56, 256);
        assertMap(net, "tr3_pool", 7, 7, 512);
        assertMap(net, "db4_l16_cat", 7, 7, 1024);
        INDArray x = TinyNets.random(8, DataType.FLOAT, 1, 3, 224, 224);
        assertSoftmaxRows(net.outputSingle(x), 1, 1000);
    }

    @Test
    void resnet50FromDl4jsZoo() {
        ComputationGraph net = ZooModels.build("ResNet50", 1000, 42);
        assertEquals(53, ZooModels.convLayers(net));
        // Same as Keras' ResNet50 (conv biases, BN counted with 4 values per channel).
        assertEquals(25_636_712L, net.numParams());
        // DL4J's quirk: stage 2 also has stride 2, so the last map is 4x4, and its "avgpool" is a 3x3/2 max pool
        // that keeps only the top-left 3x3 window (1x1 output). Same parameter count, different network.
        assertMap(net, "res5c_branch", 4, 4, 2048);
        assertMap(net, "avgpool", 1, 1, 2048);
    }

    @Test
    void vgg16FromDl4jsZoo() {
        ComputationGraph net = ZooModels.build("vgg16", 1000, 42);
        assertEquals(13, ZooModels.convLayers(net));
        assertEquals(138_357_544L, net.numParams());
    }

    @Test
    void smallFamiliesClassifyFashionMnistShapedInput() {
        INDArray x = TinyNets.random(9, DataType.FLOAT, 2, 1, 28, 28);
        ComputationGraph g = SmallFamilies.googlenet(1, 3);
        assertEquals(19, ZooModels.convLayers(g));
        assertSoftmaxRows(g.outputSingle(x), 2, 10);
        ComputationGraph d = SmallFamilies.densenet(1, 3);
        assertEquals(21, ZooModels.convLayers(d));
        assertSoftmaxRows(d.outputSingle(x), 2, 10);
        System.out.println("small googlenet params " + g.numParams() + ", small densenet params " + d.numParams());
    }

    @Test
    void pretrainedWithoutNetworkFailsWithTheCachePath(@TempDir Path dir) {
        File oldBase = DL4JResources.getBaseDirectory();
        String oldUrl = DL4JResources.getBaseDownloadURL();
        // A refused local port makes the download fail the same way with or without internet access.
        DL4JResources.setBaseDirectory(dir.toFile());
        DL4JResources.setBaseDownloadURL("http://127.0.0.1:9/");
        try {
            IOException e = assertThrows(IOException.class,
                    () -> ZooModels.pretrained("resnet50", PretrainedType.IMAGENET));
            String msg = e.getMessage();
            System.out.println("offline message: " + msg);
            String folder = dir.resolve("models").resolve("resnet50").toString();
            assertTrue(msg.contains(folder + File.separator + "resnet50_dl4j_inference.v3.zip"), msg);
            assertFalse(msg.contains("\n") || msg.contains("\r"), msg);
            assertFalse(msg.contains("\tat ") || msg.contains(".java:"), msg);
        } finally {
            DL4JResources.setBaseDirectory(oldBase);
            DL4JResources.setBaseDownloadURL(oldUrl);
        }
    }

    @Test
    void pretrainedIsRefusedWhereDl4jHasNoWeights() {
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class,
                () -> ZooModels.pretrained("googlenet", PretrainedType.IMAGENET));
        assertTrue(g.getMessage().contains("--weights"), g.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> ZooModels.pretrained("densenet121", PretrainedType.IMAGENET));
        assertThrows(IllegalArgumentException.class, () -> ZooModels.pretrained("resnet50", PretrainedType.MNIST));
        assertThrows(IllegalArgumentException.class, () -> ZooModels.pretrained("alexnet", PretrainedType.IMAGENET));
        assertThrows(IllegalArgumentException.class, () -> ZooModels.build("alexnet", 10, 1));
        assertNull(GoogLeNet.builder().build().pretrainedUrl(PretrainedType.IMAGENET));
        assertNull(DenseNet121.builder().build().pretrainedUrl(PretrainedType.IMAGENET));
    }
}

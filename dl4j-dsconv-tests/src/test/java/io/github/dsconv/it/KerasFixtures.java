package io.github.dsconv.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A small trained-looking Keras 2.4 CNN written as a real {@code .h5} file ({@link KerasH5}), plus an independent
 * plain-Java forward pass of it to check what DL4J imports.
 *
 * <p>Architecture (channels_last, input 6x6x3): {@code conv2d} 3x3 same, 3 -> 8, bias - {@code batch_normalization}
 * - {@code activation} relu - {@code conv2d_1} 3x3 same, 8 -> 8, bias - [functional only: {@code add} with the relu
 * output] - {@code global_average_pooling2d} - {@code dense} 8 -> 3 softmax. The Sequential variant is what
 * {@code keras.Sequential([...]).save("m.h5")} writes, the Functional variant what {@code keras.Model(...)} writes.
 */
final class KerasFixtures {

    static final int H = 6;
    static final int W = 6;
    static final int C = 3;
    static final int F1 = 8;
    static final int F2 = 8;
    static final int CLASSES = 3;
    static final double BN_EPS = 1e-3;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Kernel of {@code conv2d}, Keras layout {@code [kh][kw][in][out]}. */
    final float[][][][] k1 = new float[3][3][C][F1];
    final float[] b1 = new float[F1];
    final float[] gamma = new float[F1];
    final float[] beta = new float[F1];
    final float[] mean = new float[F1];
    final float[] var = new float[F1];
    /** Kernel of {@code conv2d_1}, {@code [kh][kw][in][out]}. */
    final float[][][][] k2 = new float[3][3][F1][F2];
    final float[] b2 = new float[F2];
    /** Kernel of {@code dense}, {@code [in][out]}. */
    final float[][] kd = new float[F2][CLASSES];
    final float[] bd = new float[CLASSES];

    final boolean functional;

    KerasFixtures(long seed, boolean functional) {
        this.functional = functional;
        Random r = new Random(seed);
        fill(k1, r, 0.4);
        fill(b1, r, 0.1);
        for (int i = 0; i < F1; i++) {
            gamma[i] = (float) (0.5 + r.nextDouble());
            beta[i] = (float) (0.2 * r.nextGaussian());
            mean[i] = (float) (0.3 * r.nextGaussian());
            var[i] = (float) (0.2 + r.nextDouble());
        }
        fill(k2, r, 0.25);
        fill(b2, r, 0.1);
        for (float[] row : kd) {
            fill(row, r, 0.8);
        }
        fill(bd, r, 0.1);
    }

    /** Writes the model as a Keras 2.4.0 h5 file. */
    Path write(Path file) {
        KerasH5.write(file, "2.4.0", modelConfig(), weights());
        return file;
    }

    // ------------------------------------------------------------------------------------------------------
    // independent forward pass

    /** Softmax outputs for NHWC inputs {@code x[n][h][w][c]}, computed in double. */
    double[][] forward(float[][][][] x) {
        double[][] out = new double[x.length][];
        for (int n = 0; n < x.length; n++) {
            double[][][] a = conv(toDouble(x[n]), k1, b1);
            for (double[][] row : a) {
                for (double[] px : row) {
                    for (int c = 0; c < F1; c++) {
                        double v = (px[c] - mean[c]) / Math.sqrt(var[c] + BN_EPS) * gamma[c] + beta[c];
                        px[c] = Math.max(0, v);
                    }
                }
            }
            double[][][] b = conv(a, k2, b2);
            double[] pooled = new double[F2];
            for (int y = 0; y < H; y++) {
                for (int xx = 0; xx < W; xx++) {
                    for (int c = 0; c < F2; c++) {
                        pooled[c] += (b[y][xx][c] + (functional ? a[y][xx][c] : 0)) / (H * W);
                    }
                }
            }
            double[] z = new double[CLASSES];
            double max = Double.NEGATIVE_INFINITY;
            for (int o = 0; o < CLASSES; o++) {
                z[o] = bd[o];
                for (int i = 0; i < F2; i++) {
                    z[o] += pooled[i] * kd[i][o];
                }
                max = Math.max(max, z[o]);
            }
            double sum = 0;
            for (int o = 0; o < CLASSES; o++) {
                z[o] = Math.exp(z[o] - max);
                sum += z[o];
            }
            for (int o = 0; o < CLASSES; o++) {
                z[o] /= sum;
            }
            out[n] = z;
        }
        return out;
    }

    /** 3x3 "same" convolution, stride 1, of an {@code [h][w][c]} image with a {@code [kh][kw][in][out]} kernel. */
    private static double[][][] conv(double[][][] in, float[][][][] k, float[] bias) {
        int cin = k[0][0].length;
        int cout = bias.length;
        double[][][] out = new double[H][W][cout];
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                for (int o = 0; o < cout; o++) {
                    double s = bias[o];
                    for (int ky = 0; ky < 3; ky++) {
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = y + ky - 1;
                            int ix = x + kx - 1;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
                                continue;
                            }
                            for (int i = 0; i < cin; i++) {
                                s += in[iy][ix][i] * k[ky][kx][i][o];
                            }
                        }
                    }
                    out[y][x][o] = s;
                }
            }
        }
        return out;
    }

    private static double[][][] toDouble(float[][][] x) {
        double[][][] d = new double[x.length][x[0].length][x[0][0].length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                for (int c = 0; c < x[0][0].length; c++) {
                    d[i][j][c] = x[i][j][c];
                }
            }
        }
        return d;
    }

    // ------------------------------------------------------------------------------------------------------
    // the h5 contents

    Map<String, List<KerasH5.Weight>> weights() {
        Map<String, List<KerasH5.Weight>> w = new LinkedHashMap<>();
        if (functional) {
            w.put("input_1", List.of());
        }
        w.put("conv2d", List.of(new KerasH5.Weight("conv2d/kernel:0", new long[] {3, 3, C, F1}, flat(k1)),
                new KerasH5.Weight("conv2d/bias:0", new long[] {F1}, b1)));
        w.put("batch_normalization", List.of(
                new KerasH5.Weight("batch_normalization/gamma:0", new long[] {F1}, gamma),
                new KerasH5.Weight("batch_normalization/beta:0", new long[] {F1}, beta),
                new KerasH5.Weight("batch_normalization/moving_mean:0", new long[] {F1}, mean),
                new KerasH5.Weight("batch_normalization/moving_variance:0", new long[] {F1}, var)));
        w.put("activation", List.of());
        w.put("conv2d_1", List.of(new KerasH5.Weight("conv2d_1/kernel:0", new long[] {3, 3, F1, F2}, flat(k2)),
                new KerasH5.Weight("conv2d_1/bias:0", new long[] {F2}, b2)));
        if (functional) {
            w.put("add", List.of());
        }
        w.put("global_average_pooling2d", List.of());
        float[] kdFlat = new float[F2 * CLASSES];
        for (int i = 0; i < F2; i++) {
            System.arraycopy(kd[i], 0, kdFlat, i * CLASSES, CLASSES);
        }
        w.put("dense", List.of(new KerasH5.Weight("dense/kernel:0", new long[] {F2, CLASSES}, kdFlat),
                new KerasH5.Weight("dense/bias:0", new long[] {CLASSES}, bd)));
        return w;
    }

    /** {@code model.to_json()} of Keras 2.4.0 (tf.keras), with every field DL4J's importer reads. */
    String modelConfig() {
        ArrayNode layers = JSON.createArrayNode();
        ObjectNode input = layer("InputLayer", "input_1");
        ArrayNode shape = input.withObject("config").putArray("batch_input_shape");
        shape.addNull().add(H).add(W).add(C);
        input.withObject("config").put("sparse", false).put("ragged", false);
        layers.add(inbound(input));
        layers.add(inbound(conv("conv2d", F1), "input_1"));
        ObjectNode bn = layer("BatchNormalization", "batch_normalization");
        ObjectNode bc = bn.withObject("config");
        bc.putArray("axis").add(3);
        bc.put("momentum", 0.99).put("epsilon", BN_EPS).put("center", true).put("scale", true);
        for (String p : List.of("beta", "moving_mean")) {
            initializer(bc, p + "_initializer", "Zeros");
        }
        for (String p : List.of("gamma", "moving_variance")) {
            initializer(bc, p + "_initializer", "Ones");
        }
        for (String f : List.of("beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint")) {
            bc.putNull(f);
        }
        layers.add(inbound(bn, "conv2d"));
        ObjectNode act = layer("Activation", "activation");
        act.withObject("config").put("activation", "relu");
        layers.add(inbound(act, "batch_normalization"));
        layers.add(inbound(conv("conv2d_1", F2), "activation"));
        String last = "conv2d_1";
        if (functional) {
            layers.add(inbound(layer("Add", "add"), "conv2d_1", "activation"));
            last = "add";
        }
        ObjectNode gap = layer("GlobalAveragePooling2D", "global_average_pooling2d");
        gap.withObject("config").put("data_format", "channels_last");
        layers.add(inbound(gap, last));
        ObjectNode dense = layer("Dense", "dense");
        ObjectNode dc = dense.withObject("config");
        dc.put("units", CLASSES).put("activation", "softmax").put("use_bias", true);
        weightFields(dc);
        layers.add(inbound(dense, "global_average_pooling2d"));

        ObjectNode model = JSON.createObjectNode();
        model.put("class_name", functional ? "Functional" : "Sequential");
        ObjectNode config = model.putObject("config");
        config.put("name", functional ? "model" : "sequential");
        config.set("layers", layers);
        if (functional) {
            config.putArray("input_layers").addArray().add("input_1").add(0).add(0);
            config.putArray("output_layers").addArray().add("dense").add(0).add(0);
        }
        model.put("keras_version", "2.4.0");
        model.put("backend", "tensorflow");
        return model.toString();
    }

    private ObjectNode inbound(ObjectNode layer, String... inputs) {
        if (!functional) {
            return layer;
        }
        layer.put("name", layer.get("config").get("name").asText());
        ArrayNode node = layer.putArray("inbound_nodes");
        if (inputs.length > 0) {
            ArrayNode edges = node.addArray();
            for (String in : inputs) {
                edges.addArray().add(in).add(0).add(0).addObject();
            }
        }
        return layer;
    }

    private static ObjectNode layer(String cls, String name) {
        ObjectNode l = JSON.createObjectNode();
        l.put("class_name", cls);
        l.putObject("config").put("name", name).put("trainable", true).put("dtype", "float32");
        return l;
    }

    private static ObjectNode conv(String name, int filters) {
        ObjectNode l = layer("Conv2D", name);
        ObjectNode c = l.withObject("config");
        c.put("filters", filters);
        c.putArray("kernel_size").add(3).add(3);
        c.putArray("strides").add(1).add(1);
        c.put("padding", "same").put("data_format", "channels_last");
        c.putArray("dilation_rate").add(1).add(1);
        c.put("groups", 1).put("activation", "linear").put("use_bias", true);
        weightFields(c);
        return l;
    }

    private static void weightFields(ObjectNode c) {
        initializer(c, "kernel_initializer", "GlorotUniform").withObject("config").putNull("seed");
        initializer(c, "bias_initializer", "Zeros");
        for (String f : List.of("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                "kernel_constraint", "bias_constraint")) {
            c.putNull(f);
        }
    }

    private static ObjectNode initializer(ObjectNode c, String field, String cls) {
        ObjectNode i = c.putObject(field);
        i.put("class_name", cls);
        i.putObject("config");
        return i;
    }

    private static void fill(float[][][][] a, Random r, double scale) {
        for (float[][][] b : a) {
            for (float[][] c : b) {
                for (float[] d : c) {
                    fill(d, r, scale);
                }
            }
        }
    }

    private static void fill(float[] a, Random r, double scale) {
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (scale * r.nextGaussian());
        }
    }

    static float[] flat(float[][][][] a) {
        float[] f = new float[a.length * a[0].length * a[0][0].length * a[0][0][0].length];
        int j = 0;
        for (float[][][] b : a) {
            for (float[][] c : b) {
                for (float[] d : c) {
                    for (float v : d) {
                        f[j++] = v;
                    }
                }
            }
        }
        return f;
    }
}

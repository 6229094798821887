package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.ConvolutionHelper;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;

import static io.github.dsconv.engine.OneDnn.check;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_set_data_handle;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_oihw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_wait;

/**
 * The forward pass of one DL4J {@link org.deeplearning4j.nn.layers.convolution.ConvolutionLayer} as a oneDNN FP32
 * convolution ({@code dnnl_convolution_forward}, inference), reading the layer's input, weights and bias and
 * writing its output in place (no copies) for NCHW layers; NHWC layers pay a permuted copy each way. Installed by
 * {@link Fp32Convolutions}. The primitive is made for the last geometry seen (batch size, input size) and remade
 * when it changes. Backpropagation returns null, so DL4J's built-in path computes gradients.
 */
final class OneDnnConvHelper implements ConvolutionHelper {

    private static final Cleaner CLEANER = Cleaner.create();

    /** Everything the primitive depends on: the geometry (the source as NCHW) and the weights' shape. */
    private record Key(ConvGeometry geometry, long[] w) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && geometry.equals(k.geometry) && Arrays.equals(w, k.w);
        }

        @Override
        public int hashCode() {
            return geometry.hashCode() * 31 + Arrays.hashCode(w);
        }
    }

    private final OneDnn.Handles natives = new OneDnn.Handles();
    /** The current primitive and its memories (source, weights, destination, bias), owned by {@link #natives}. */
    private dnnl_primitive primitive;
    private final dnnl_memory[] memories = new dnnl_memory[4];
    private final dnnl_exec_arg_t args = new dnnl_exec_arg_t(4);
    private Key key;
    private String implementation;

    OneDnnConvHelper() {
        OneDnn.engine();
        CLEANER.register(this, natives);
    }

    /** oneDNN's implementation of the current primitive (e.g. {@code brg_conv_fwd:avx512_core}), or null. */
    String implementation() {
        return implementation;
    }

    @Override
    public boolean checkSupported() {
        return OneDnn.available();
    }

    @Override
    public synchronized INDArray preOutput(INDArray input, INDArray weights, INDArray bias, int[] kernel,
                                           int[] strides, int[] pad, ConvolutionLayer.AlgoMode mode,
                                           ConvolutionLayer.FwdAlgo fwdAlgo, ConvolutionMode convolutionMode,
                                           int[] dilation, CNN2DFormat format, LayerWorkspaceMgr workspaceMgr) {
        if (input.dataType() != DataType.FLOAT || weights.dataType() != DataType.FLOAT
                || (bias != null && bias.dataType() != DataType.FLOAT)) {
            return null; // DL4J's own path
        }
        boolean nhwc = format == CNN2DFormat.NHWC;
        ConvGeometry geo = ConvGeometry.of(kernel, strides, pad, dilation, convolutionMode, format, input);
        int[] outSize = {geo.outH(), geo.outW()};
        // NHWC runs as NCHW between two permuted copies: with plain [oC, iC, kH, kW] weights oneDNN 3.3 picks
        // gemm:jit for NCHW but its reference kernel (about 20x slower) for NHWC; the two copies cost a few percent.
        INDArray x = nhwc ? input.permute(0, 3, 1, 2).dup('c') : dense(input);
        INDArray w = dense(weights);
        INDArray b = bias == null ? null : dense(bias);
        long n = x.size(0);
        long nOut = w.size(0);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, nhwc
                ? new long[] {n, outSize[0], outSize[1], nOut} : new long[] {n, nOut, outSize[0], outSize[1]}, 'c');
        INDArray target = nhwc ? Nd4j.createUninitialized(DataType.FLOAT, n, nOut, outSize[0], outSize[1])
                : dense(out);

        // The primitive always runs NCHW (see above).
        ConvGeometry nchw = new ConvGeometry(false, geo.batch(), geo.channels(), geo.height(), geo.width(),
                geo.outH(), geo.outW(), geo.padTop(), geo.padLeft(), geo.kh(), geo.kw(), geo.strideY(),
                geo.strideX(), geo.dilY(), geo.dilX());
        Key k = new Key(nchw, w.shape());
        if (!k.equals(key)) {
            make(k, nOut, outSize, b != null);
        }
        synchronized (natives) {
            bind(0, x);
            bind(1, w);
            bind(2, target);
            if (b != null) {
                bind(3, b);
            }
            check(dnnl_primitive_execute(primitive, OneDnn.stream(), b == null ? 3 : 4, args),
                    "dnnl_primitive_execute");
            check(dnnl_stream_wait(OneDnn.stream()), "dnnl_stream_wait");
        }
        if (nhwc) {
            out.assign(target.permute(0, 2, 3, 1));
        } else if (target != out) {
            out.assign(target);
        }
        return out;
    }

    /**
     * The array itself when it is dense c order with the default strides and its buffer is exactly its elements (a
     * view's buffer then starts at the view's first element), else a dense copy.
     */
    private static INDArray dense(INDArray a) {
        return a.ordering() == 'c' && Shape.hasDefaultStridesForShape(a) && a.data().length() == a.length() ? a
                : a.dup('c');
    }

    private void bind(int slot, INDArray a) {
        // ND4J's view buffers already start at the view's first element (see dense()).
        check(dnnl_memory_set_data_handle(memories[slot], OneDnn.at(a.data().addressPointer().address())),
                "dnnl_memory_set_data_handle");
    }

    private void make(Key k, long nOut, int[] outSize, boolean hasBias) {
        natives.run();
        ConvGeometry g = k.geometry();
        dnnl_memory_desc srcMd = OneDnn.md(new long[] {g.batch(), g.channels(), g.height(), g.width()}, dnnl_f32,
                dnnl_nchw);
        dnnl_memory_desc weiMd = OneDnn.md(k.w(), dnnl_f32, dnnl_oihw);
        dnnl_memory_desc biasMd = OneDnn.md(new long[] {nOut}, dnnl_f32, dnnl_a);
        dnnl_memory_desc dstMd = OneDnn.md(new long[] {g.batch(), nOut, outSize[0], outSize[1]}, dnnl_f32,
                dnnl_nchw);
        dnnl_primitive_desc pd = OneDnn.convolution(srcMd, weiMd, hasBias ? biasMd : null, dstMd, g);
        implementation = OneDnn.implementation(pd);
        dnnl_primitive p = new dnnl_primitive();
        check(dnnl_primitive_create(p, pd), "dnnl_primitive_create");
        dnnl_primitive_desc_destroy(pd);
        synchronized (natives) {
            natives.add(p);
            primitive = p;
            dnnl_memory_desc[] mds = {srcMd, weiMd, dstMd, biasMd};
            int[] argIds = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS};
            for (int i = 0; i < 4; i++) {
                // Without a data handle: each execution binds that call's buffers (see bind).
                dnnl_memory m = OneDnn.memory(mds[i], null, natives);
                memories[i] = m;
                args.position(i).arg(argIds[i]).memory(m);
            }
            args.position(0);
        }
        for (dnnl_memory_desc md : new dnnl_memory_desc[] {srcMd, weiMd, biasMd, dstMd}) {
            dnnl_memory_desc_destroy(md);
        }
        key = k;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray input, INDArray weights, INDArray bias, INDArray delta,
                                                     int[] kernel, int[] strides, int[] pad, INDArray biasGradView,
                                                     INDArray weightGradView, IActivation afn,
                                                     ConvolutionLayer.AlgoMode mode,
                                                     ConvolutionLayer.BwdFilterAlgo bwdFilterAlgo,
                                                     ConvolutionLayer.BwdDataAlgo bwdDataAlgo,
                                                     ConvolutionMode convolutionMode, int[] dilation,
                                                     CNN2DFormat format, LayerWorkspaceMgr workspaceMgr) {
        return null; // DL4J's built-in backward pass
    }

    @Override
    public INDArray activate(INDArray z, IActivation afn, boolean training) {
        return afn.getActivation(z, training);
    }

    @Override
    public Map<String, Long> helperMemoryUse() {
        return Collections.emptyMap();
    }
}

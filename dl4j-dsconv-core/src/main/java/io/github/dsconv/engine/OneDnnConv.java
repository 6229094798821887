package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.javacpp.FloatPointer;

import java.lang.ref.Cleaner;

import static io.github.dsconv.engine.OneDnn.check;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nhwc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_oihw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_wait;

/**
 * One FP32 oneDNN convolution ({@code dnnl_convolution_forward}, inference, direct) with fixed weights
 * {@code [nOut, nIn, kH, kW]} and optional bias; source and destination in NCHW or NHWC. The primitive and its
 * native buffers are made for the last input geometry seen and remade when it changes. Runs on the process-wide
 * stream with oneDNN's own threads; calls are serialised.
 */
final class OneDnnConv {

    private static final Cleaner CLEANER = Cleaner.create();

    private final int nIn;
    private final int nOut;
    private final int kh;
    private final int kw;
    private final boolean nhwc;
    private final FloatPointer weights;
    private final FloatPointer bias;
    private final OneDnn.Handles natives = new OneDnn.Handles();
    private final Cleaner.Cleanable cleanable;
    private ConvGeometry geometry;
    private dnnl_primitive primitive;
    private dnnl_exec_arg_t args;
    private FloatPointer src;
    private FloatPointer dst;
    private String implementation;

    /**
     * @param weights {@code [nOut, nIn, kH, kW]} in c order
     * @param bias    {@code [nOut]}, or null
     */
    OneDnnConv(float[] weights, float[] bias, int nIn, int nOut, int kh, int kw, boolean nhwc) {
        OneDnn.engine();
        this.nIn = nIn;
        this.nOut = nOut;
        this.kh = kh;
        this.kw = kw;
        this.nhwc = nhwc;
        this.weights = new FloatPointer(weights);
        this.bias = bias == null ? null : new FloatPointer(bias);
        this.cleanable = CLEANER.register(this, natives);
    }

    /**
     * Convolves {@code x} (the layer's format, {@code n * nIn * h * w} values) into {@code out} (the layer's format,
     * {@code n * nOut * oh * ow} values) with the geometry {@code g} ({@link ConvGeometry#padBottom()}).
     */
    synchronized void forward(float[] x, ConvGeometry g, float[] out) {
        if (!g.equals(geometry)) {
            make(g);
        }
        src.position(0).put(x, 0, g.batch() * nIn * g.inPositions());
        check(dnnl_primitive_execute(primitive, OneDnn.stream(), bias == null ? 3 : 4, args),
                "dnnl_primitive_execute");
        check(dnnl_stream_wait(OneDnn.stream()), "dnnl_stream_wait");
        dst.position(0).get(out, 0, g.batch() * nOut * g.outPositions());
    }

    private void make(ConvGeometry g) {
        natives.run(); // the previous geometry's primitive and memories
        int tag = nhwc ? dnnl_nhwc : dnnl_nchw;
        dnnl_memory_desc srcMd = OneDnn.md(new long[] {g.batch(), nIn, g.height(), g.width()}, dnnl_f32, tag);
        dnnl_memory_desc weiMd = OneDnn.md(new long[] {nOut, nIn, kh, kw}, dnnl_f32, dnnl_oihw);
        dnnl_memory_desc biasMd = bias == null ? null : OneDnn.md(new long[] {nOut}, dnnl_f32, dnnl_a);
        dnnl_memory_desc dstMd = OneDnn.md(new long[] {g.batch(), nOut, g.outH(), g.outW()}, dnnl_f32, tag);
        dnnl_primitive_desc pd = OneDnn.convolution(srcMd, weiMd, biasMd, dstMd, g);
        implementation = OneDnn.implementation(pd);
        dnnl_primitive p = new dnnl_primitive();
        check(dnnl_primitive_create(p, pd), "dnnl_primitive_create");
        dnnl_primitive_desc_destroy(pd);
        src = new FloatPointer((long) g.batch() * nIn * g.inPositions());
        dst = new FloatPointer((long) g.batch() * nOut * g.outPositions());
        dnnl_exec_arg_t a = new dnnl_exec_arg_t(bias == null ? 3 : 4);
        a.position(0).arg(DNNL_ARG_SRC).memory(OneDnn.memory(srcMd, src, natives));
        a.position(1).arg(DNNL_ARG_WEIGHTS).memory(OneDnn.memory(weiMd, weights, natives));
        a.position(2).arg(DNNL_ARG_DST).memory(OneDnn.memory(dstMd, dst, natives));
        if (bias != null) {
            a.position(3).arg(DNNL_ARG_BIAS).memory(OneDnn.memory(biasMd, bias, natives));
            dnnl_memory_desc_destroy(biasMd);
        }
        a.position(0);
        dnnl_memory_desc_destroy(srcMd);
        dnnl_memory_desc_destroy(weiMd);
        dnnl_memory_desc_destroy(dstMd);
        natives.add(p);
        primitive = p;
        args = a;
        geometry = g;
    }

    /** oneDNN's implementation name (after the first forward), or null. */
    synchronized String implementation() {
        return implementation;
    }

    /** Releases native resources; the convolution must not be used afterwards. */
    void close() {
        cleanable.clean();
    }
}

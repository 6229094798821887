package io.github.dsconv.engine;

import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.javacpp.FloatPointer;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;

import static io.github.dsconv.engine.OneDnn.check;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_a;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_forward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_inference;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nhwc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_oihw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_destroy;
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
    private final Natives natives = new Natives();
    private final Cleaner.Cleanable cleanable;
    private Geometry geometry;
    private dnnl_primitive primitive;
    private dnnl_exec_arg_t args;
    private FloatPointer src;
    private FloatPointer dst;
    private String implementation;

    /** The input geometry a primitive was made for. */
    record Geometry(int n, int h, int w, int oh, int ow, int sh, int sw, int dh, int dw, int padTop, int padLeft) {
    }

    /** Native handles to release; holds no reference to the convolution so that the cleaner can run. */
    private static final class Natives implements Runnable {
        final List<dnnl_primitive> primitives = new ArrayList<>();
        final List<dnnl_memory> memories = new ArrayList<>();

        @Override
        public synchronized void run() {
            primitives.forEach(p -> dnnl_primitive_destroy(p));
            memories.forEach(m -> dnnl_memory_destroy(m));
            primitives.clear();
            memories.clear();
        }
    }

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
     * {@code n * nOut * oh * ow} values). Bottom and right padding follow from the output size.
     */
    synchronized void forward(float[] x, Geometry g, float[] out) {
        if (!g.equals(geometry)) {
            make(g);
        }
        src.position(0).put(x, 0, g.n() * nIn * g.h() * g.w());
        check(dnnl_primitive_execute(primitive, OneDnn.stream(), bias == null ? 3 : 4, args),
                "dnnl_primitive_execute");
        check(dnnl_stream_wait(OneDnn.stream()), "dnnl_stream_wait");
        dst.position(0).get(out, 0, g.n() * nOut * g.oh() * g.ow());
    }

    private void make(Geometry g) {
        natives.run(); // the previous geometry's primitive and memories
        int tag = nhwc ? dnnl_nhwc : dnnl_nchw;
        dnnl_memory_desc srcMd = md(new long[] {g.n(), nIn, g.h(), g.w()}, tag);
        dnnl_memory_desc weiMd = md(new long[] {nOut, nIn, kh, kw}, dnnl_oihw);
        dnnl_memory_desc biasMd = bias == null ? null : md(new long[] {nOut}, dnnl_a);
        dnnl_memory_desc dstMd = md(new long[] {g.n(), nOut, g.oh(), g.ow()}, tag);
        // oneDNN's dilation counts the gaps (0 = dense); the padding at the far end is what the output size needs.
        long padBottom = (long) (g.oh() - 1) * g.sh() + (long) (kh - 1) * g.dh() + 1 - g.h() - g.padTop();
        long padRight = (long) (g.ow() - 1) * g.sw() + (long) (kw - 1) * g.dw() + 1 - g.w() - g.padLeft();
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        check(dnnl_convolution_forward_primitive_desc_create(pd, OneDnn.engine(), dnnl_forward_inference,
                dnnl_convolution_direct, srcMd, weiMd, biasMd, dstMd, new long[] {g.sh(), g.sw()},
                new long[] {g.dh() - 1, g.dw() - 1}, new long[] {g.padTop(), g.padLeft()},
                new long[] {padBottom, padRight}, (dnnl_primitive_attr) null),
                "dnnl_convolution_forward_primitive_desc_create");
        implementation = OneDnn.implementation(pd);
        dnnl_primitive p = new dnnl_primitive();
        check(dnnl_primitive_create(p, pd), "dnnl_primitive_create");
        dnnl_primitive_desc_destroy(pd);
        src = new FloatPointer((long) g.n() * nIn * g.h() * g.w());
        dst = new FloatPointer((long) g.n() * nOut * g.oh() * g.ow());
        dnnl_exec_arg_t a = new dnnl_exec_arg_t(bias == null ? 3 : 4);
        a.position(0).arg(DNNL_ARG_SRC).memory(memory(srcMd, src));
        a.position(1).arg(DNNL_ARG_WEIGHTS).memory(memory(weiMd, weights));
        a.position(2).arg(DNNL_ARG_DST).memory(memory(dstMd, dst));
        if (bias != null) {
            a.position(3).arg(DNNL_ARG_BIAS).memory(memory(biasMd, bias));
            dnnl_memory_desc_destroy(biasMd);
        }
        a.position(0);
        dnnl_memory_desc_destroy(srcMd);
        dnnl_memory_desc_destroy(weiMd);
        dnnl_memory_desc_destroy(dstMd);
        synchronized (natives) {
            natives.primitives.add(p);
        }
        primitive = p;
        args = a;
        geometry = g;
    }

    private static dnnl_memory_desc md(long[] dims, int tag) {
        dnnl_memory_desc md = new dnnl_memory_desc();
        check(dnnl_memory_desc_create_with_tag(md, dims.length, dims, dnnl_f32, tag),
                "dnnl_memory_desc_create_with_tag");
        return md;
    }

    private dnnl_memory memory(dnnl_memory_desc md, FloatPointer handle) {
        dnnl_memory m = new dnnl_memory();
        check(dnnl_memory_create(m, md, OneDnn.engine(), OneDnn.at(handle.address())), "dnnl_memory_create");
        synchronized (natives) {
            natives.memories.add(m);
        }
        return m;
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

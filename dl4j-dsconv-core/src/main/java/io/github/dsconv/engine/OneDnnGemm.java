package io.github.dsconv.engine;

import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

import java.lang.ref.Cleaner;
import java.util.HashMap;
import java.util.Map;

import static io.github.dsconv.engine.OneDnn.check;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_abc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_matmul_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_s32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_s8;
import static org.bytedeco.dnnl.global.dnnl.dnnl_u8;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_wait;

/**
 * oneDNN batched matmul {@code [gc, pc, B] s8 (or u8) x [gc, B, nOut] s8 -> [gc, pc, nOut] s32} (or f32: the same
 * int32 sums converted by oneDNN's output stage). Each calling thread
 * gets its own stream, native source, weight and destination buffers and primitives (one per {@code (gc, pc)} shape,
 * created on first use); each call copies the caller's unpacked int8 weights into the thread's weight buffer, which
 * the primitives' weights memory points at. Thread-safe.
 */
final class OneDnnGemm implements Int8BatchedGemm {

    private static final Cleaner CLEANER = Cleaner.create();

    private final int blockSize;
    private final int nOut;
    private final long maxRows;
    private final int maxGroups;
    private final OneDnn.Handles natives = new OneDnn.Handles();
    /** Per-thread state; {@link Ctx} holds no reference to this object, so the gemm can still be collected. */
    private final ThreadLocal<Ctx> local;
    private final Cleaner.Cleanable cleanable;
    private volatile String implementation;

    /** One primitive with its argument array (its three memories point at the thread's buffers). */
    private record Prim(dnnl_primitive primitive, dnnl_exec_arg_t args) {
    }

    /** One thread's stream, buffers and primitives. */
    private static final class Ctx {
        final dnnl_stream stream;
        final BytePointer src;
        final BytePointer wei;
        final IntPointer dst;
        /** {@link #dst}'s memory, read as float by the f32-destination primitives. */
        final FloatPointer dstF;
        final Map<Long, Prim> prims = new HashMap<>();

        Ctx(dnnl_stream stream, BytePointer src, BytePointer wei, IntPointer dst) {
            this.stream = stream;
            this.src = src;
            this.wei = wei;
            this.dst = dst;
            this.dstF = new FloatPointer(dst);
        }
    }

    /**
     * @param maxRows   largest {@code gc * pc} a call will use (sizes the native buffers)
     * @param maxGroups largest {@code gc} a call will use
     */
    OneDnnGemm(int blockSize, int nOut, long maxRows, int maxGroups) {
        OneDnn.engine();
        this.blockSize = blockSize;
        this.nOut = nOut;
        this.maxRows = maxRows;
        this.maxGroups = maxGroups;
        OneDnn.Handles n = natives;
        long srcBytes = maxRows * blockSize;
        long weiBytes = (long) maxGroups * blockSize * nOut;
        long dstInts = maxRows * nOut;
        this.local = ThreadLocal.withInitial(() -> newCtx(n, srcBytes, weiBytes, dstInts));
        this.cleanable = CLEANER.register(this, natives);
    }

    private static Ctx newCtx(OneDnn.Handles natives, long srcBytes, long weiBytes, long dstInts) {
        dnnl_stream s = new dnnl_stream();
        check(dnnl_stream_create(s, OneDnn.engine(), dnnl_stream_default_flags), "dnnl_stream_create");
        natives.add(s);
        return new Ctx(s, new BytePointer(srcBytes), new BytePointer(weiBytes), new IntPointer(dstInts));
    }

    @Override
    public void multiply(int gc, int pc, byte[] src, byte[] weights, int[] dst, boolean unsignedSrc) {
        Ctx c = run(gc, pc, src, weights, unsignedSrc, false);
        c.dst.position(0).get(dst, 0, gc * pc * nOut);
    }

    @Override
    public void multiply(int gc, int pc, byte[] src, byte[] weights, float[] dst, boolean unsignedSrc) {
        Ctx c = run(gc, pc, src, weights, unsignedSrc, true);
        c.dstF.position(0).get(dst, 0, gc * pc * nOut);
    }

    private Ctx run(int gc, int pc, byte[] src, byte[] weights, boolean unsignedSrc, boolean f32) {
        if ((long) gc * pc > maxRows || gc > maxGroups) {
            throw new IllegalArgumentException("tile of " + gc + " x " + pc + " rows exceeds " + maxGroups
                    + " groups or " + maxRows + " rows");
        }
        Ctx c = local.get();
        Prim p = prim(c, gc, pc, unsignedSrc, f32);
        c.src.position(0).put(src, 0, gc * pc * blockSize);
        c.wei.position(0).put(weights, 0, gc * blockSize * nOut);
        check(dnnl_primitive_execute(p.primitive, c.stream, 3, p.args), "dnnl_primitive_execute");
        check(dnnl_stream_wait(c.stream), "dnnl_stream_wait");
        return c;
    }

    @Override
    public int weightsColumns() {
        return nOut;
    }

    private Prim prim(Ctx c, int gc, int pc, boolean unsignedSrc, boolean f32) {
        long key = ((long) gc << 34) | ((long) pc << 2) | (f32 ? 2 : 0) | (unsignedSrc ? 1 : 0);
        Prim p = c.prims.get(key);
        if (p != null) {
            return p;
        }
        // u8 x s8 is oneDNN's native int8 product without VNNI (vpmaddubsw); s8 x s8 adds a +128 shift of the
        // source and a compensation term per call.
        dnnl_memory_desc srcMd = OneDnn.md(new long[] {gc, pc, blockSize}, unsignedSrc ? dnnl_u8 : dnnl_s8, dnnl_abc);
        dnnl_memory_desc weiMd = OneDnn.md(new long[] {gc, blockSize, nOut}, dnnl_s8, dnnl_abc);
        dnnl_memory_desc dstMd = OneDnn.md(new long[] {gc, pc, nOut}, f32 ? dnnl_f32 : dnnl_s32, dnnl_abc);
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        check(dnnl_matmul_primitive_desc_create(pd, OneDnn.engine(), srcMd, weiMd, (dnnl_memory_desc) null, dstMd,
                (dnnl_primitive_attr) null), "dnnl_matmul_primitive_desc_create");
        if (implementation == null) {
            implementation = OneDnn.implementation(pd);
        }
        dnnl_primitive prim = new dnnl_primitive();
        check(dnnl_primitive_create(prim, pd), "dnnl_primitive_create");
        dnnl_primitive_desc_destroy(pd);
        dnnl_memory src = OneDnn.memory(srcMd, c.src, natives);
        dnnl_memory wei = OneDnn.memory(weiMd, c.wei, natives);
        dnnl_memory dstMem = OneDnn.memory(dstMd, f32 ? c.dstF : c.dst, natives);
        dnnl_memory_desc_destroy(srcMd);
        dnnl_memory_desc_destroy(weiMd);
        dnnl_memory_desc_destroy(dstMd);
        dnnl_exec_arg_t args = new dnnl_exec_arg_t(3);
        args.position(0).arg(DNNL_ARG_SRC).memory(src);
        args.position(1).arg(DNNL_ARG_WEIGHTS).memory(wei);
        args.position(2).arg(DNNL_ARG_DST).memory(dstMem);
        args.position(0);
        natives.add(prim);
        p = new Prim(prim, args);
        c.prims.put(key, p);
        return p;
    }

    /** The oneDNN implementation name of the first primitive created (e.g. {@code gemm:jit}), or null. */
    String implementation() {
        return implementation;
    }

    @Override
    public Backend backend() {
        return Backend.ONEDNN;
    }

    @Override
    public void close() {
        cleanable.clean();
    }
}

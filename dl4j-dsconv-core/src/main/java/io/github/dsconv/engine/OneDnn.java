package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_forward_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_inference;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_create_with_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_impl_info_str;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

/**
 * The process-wide oneDNN CPU engine and stream, loaded on first use. If the native library cannot load (another
 * platform, a missing dependency) {@link #available()} is false and {@link #failure()} says why; the integer engine
 * then runs its plain-Java fallback. Also the helpers every oneDNN user of the engine shares: memory descriptors and
 * memories ({@link #md}, {@link #memory}), the FP32 convolution descriptor ({@link #convolution}) and the native
 * handles to release ({@link Handles}).
 */
public final class OneDnn {

    private static final Object LOCK = new Object();
    private static volatile boolean tried;
    private static dnnl_engine engine;
    private static dnnl_stream stream;
    private static String failure;

    private OneDnn() {
    }

    /** True if oneDNN loaded and a CPU engine was created. */
    public static boolean available() {
        init();
        return engine != null;
    }

    /** Why oneDNN is unavailable, or {@code null} when it loaded. */
    public static String failure() {
        init();
        return failure;
    }

    static dnnl_engine engine() {
        init();
        if (engine == null) {
            throw new IllegalStateException("oneDNN is not available: " + failure);
        }
        return engine;
    }

    static dnnl_stream stream() {
        engine();
        return stream;
    }

    private static void init() {
        if (tried) {
            return;
        }
        synchronized (LOCK) {
            if (tried) {
                return;
            }
            try {
                Loader.load(org.bytedeco.dnnl.global.dnnl.class);
                dnnl_engine e = new dnnl_engine();
                check(dnnl_engine_create(e, dnnl_cpu, 0), "dnnl_engine_create");
                dnnl_stream s = new dnnl_stream();
                check(dnnl_stream_create(s, e, dnnl_stream_default_flags), "dnnl_stream_create");
                engine = e;
                stream = s;
            } catch (Throwable t) {
                // UnsatisfiedLinkError, NoClassDefFoundError or a dnnl status: all mean "use the Java path".
                failure = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
            tried = true;
        }
    }

    /** Throws if a oneDNN call did not return {@code dnnl_success}. */
    static void check(int status, String what) {
        if (status != dnnl_success) {
            throw new IllegalStateException(what + " failed with oneDNN status " + status);
        }
    }

    /** The implementation oneDNN picked for a primitive, e.g. {@code brg:avx512_core_vnni} or {@code gemm:jit}. */
    static String implementation(dnnl_primitive_desc pd) {
        PointerPointer<BytePointer> pp = new PointerPointer<>(1);
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, pp) != dnnl_success) {
            return "unknown";
        }
        return pp.get(BytePointer.class, 0).getString();
    }

    /** A raw pointer at an absolute address (JavaCPP offers no public constructor for one). */
    static Pointer at(long target) {
        // The parameter must not be called "address": inside the anonymous class that name is Pointer's field.
        return new Pointer() {
            {
                this.address = target;
            }
        };
    }

    /** A plain memory descriptor: {@code dims} of {@code dataType} (e.g. {@code dnnl_f32}) in layout {@code tag}. */
    static dnnl_memory_desc md(long[] dims, int dataType, int tag) {
        dnnl_memory_desc md = new dnnl_memory_desc();
        check(dnnl_memory_desc_create_with_tag(md, dims.length, dims, dataType, tag),
                "dnnl_memory_desc_create_with_tag");
        return md;
    }

    /**
     * A memory of descriptor {@code md} on the CPU engine over the native buffer {@code handle}, or without a data
     * handle when {@code handle} is null (oneDNN's idiom for reused primitives: each execution then binds that call's
     * buffer with {@code dnnl_memory_set_data_handle}); registered in {@code handles} for release.
     */
    static dnnl_memory memory(dnnl_memory_desc md, Pointer handle, Handles handles) {
        dnnl_memory m = new dnnl_memory();
        check(dnnl_memory_create(m, md, engine(), handle == null ? null : at(handle.address())),
                "dnnl_memory_create");
        handles.add(m);
        return m;
    }

    /**
     * An FP32 inference convolution descriptor ({@code dnnl_convolution_forward}, direct) for DL4J's geometry:
     * {@code dilation} as DL4J counts it (1 = dense; oneDNN counts the gaps, so it is passed minus 1) and the
     * padding at the far end whatever the output size needs ({@link ConvGeometry#padBottom()}: DL4J's Same mode
     * may pad asymmetrically). {@code biasMd} may be null. The caller destroys the descriptor.
     */
    static dnnl_primitive_desc convolution(dnnl_memory_desc srcMd, dnnl_memory_desc weiMd, dnnl_memory_desc biasMd,
                                           dnnl_memory_desc dstMd, ConvGeometry g) {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        check(dnnl_convolution_forward_primitive_desc_create(pd, engine(), dnnl_forward_inference,
                dnnl_convolution_direct, srcMd, weiMd, biasMd, dstMd, new long[] {g.strideY(), g.strideX()},
                new long[] {g.dilY() - 1, g.dilX() - 1}, new long[] {g.padTop(), g.padLeft()},
                new long[] {g.padBottom(), g.padRight()}, (dnnl_primitive_attr) null),
                "dnnl_convolution_forward_primitive_desc_create");
        return pd;
    }

    /**
     * Native handles to release together, e.g. by a {@link java.lang.ref.Cleaner}: holds no reference to its owner,
     * so that the owner can still be collected. Thread-safe.
     */
    static final class Handles implements Runnable {
        private final List<dnnl_primitive> primitives = new ArrayList<>();
        private final List<dnnl_memory> memories = new ArrayList<>();
        private final List<dnnl_stream> streams = new ArrayList<>();

        synchronized void add(dnnl_primitive p) {
            primitives.add(p);
        }

        synchronized void add(dnnl_memory m) {
            memories.add(m);
        }

        synchronized void add(dnnl_stream s) {
            streams.add(s);
        }

        /** Destroys every handle added so far. */
        @Override
        public synchronized void run() {
            primitives.forEach(p -> dnnl_primitive_destroy(p));
            memories.forEach(m -> dnnl_memory_destroy(m));
            streams.forEach(s -> dnnl_stream_destroy(s));
            primitives.clear();
            memories.clear();
            streams.clear();
        }
    }
}

package io.github.dsconv.engine;

import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_impl_info_str;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

/**
 * The process-wide oneDNN CPU engine and stream, loaded on first use. If the native library cannot load (another
 * platform, a missing dependency) {@link #available()} is false and {@link #failure()} says why; the integer engine
 * then runs its plain-Java fallback.
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
}

package io.github.dsconv.layers;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Copies between ND4J arrays and Java arrays without leaving off-heap temporaries behind. ND4J frees an array's
 * native memory only when the garbage collector finalises it, so a conversion that makes a few temporary copies per
 * layer of a 25M-parameter network holds several times the model in native memory until the next GC; closing the
 * temporaries as soon as they are read keeps the peak at what is really live.
 */
public final class HostCopies {

    private HostCopies() {
    }

    /** The values of {@code a} in c order as floats (a copy). */
    public static float[] floats(INDArray a) {
        if (a.dataType() == DataType.FLOAT && !a.isView() && a.ordering() == 'c'
                && a.data().length() == a.length()) {
            return a.data().asFloat(); // already a dense float buffer of exactly these values
        }
        INDArray cast = a.castTo(DataType.FLOAT);
        INDArray dense = cast.dup('c');
        try {
            return dense.data().asFloat();
        } finally {
            dense.close();
            if (cast != a && cast.closeable()) {
                cast.close();
            }
        }
    }

    /**
     * Assigns small integers (c order) to {@code target}, which may be a view of another dtype. Goes through an
     * INT8 array, a quarter of a float copy, because {@code q} is the largest thing a conversion writes.
     */
    public static void assign(INDArray target, byte[] values) {
        if (values.length != target.length()) {
            throw new IllegalArgumentException("cannot assign " + values.length + " values to an array of "
                    + target.length());
        }
        INDArray src = Nd4j.createFromArray(values);
        INDArray shaped = src.reshape('c', target.shape());
        try {
            target.assign(shaped);
        } finally {
            if (shaped != src && shaped.closeable()) {
                shaped.close();
            }
            src.close();
        }
    }

    /** Assigns {@code values} (c order) to {@code target}, which may be a view of another dtype. */
    public static void assign(INDArray target, float[] values) {
        if (values.length != target.length()) {
            throw new IllegalArgumentException("cannot assign " + values.length + " values to an array of "
                    + target.length());
        }
        INDArray src = Nd4j.create(values, target.shape(), 'c');
        try {
            target.assign(src);
        } finally {
            src.close();
        }
    }
}

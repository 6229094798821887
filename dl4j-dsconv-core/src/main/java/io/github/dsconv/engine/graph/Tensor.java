package io.github.dsconv.engine.graph;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;

/**
 * An activation inside an {@link ExecutionPlan}: {@code shape} in the producing layer's layout (c order), its values
 * in the first {@code length()} floats of {@code data} (a buffer from the plan's {@link Arena}, possibly longer).
 */
record Tensor(float[] data, long[] shape) {

    /** Number of values. */
    int length() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    /** Dimension {@code i}. */
    int dim(int i) {
        return Math.toIntExact(shape[i]);
    }

    /** A detached FLOAT copy as an ND4J array (for a DL4J fallback step or the plan's outputs). */
    INDArray toArray() {
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray a = Nd4j.createUninitializedDetached(DataType.FLOAT, shape.clone());
            a.data().asNioFloat().put(data, 0, length());
            return a;
        }
    }

    /** {@code a}'s values (cast to float, c order) in a buffer from {@code arena}. */
    static Tensor copyOf(INDArray a, Arena arena) {
        INDArray c = a.dataType() == DataType.FLOAT && a.ordering() == 'c' && !a.isView()
                && a.data().length() == a.length() ? a : a.castTo(DataType.FLOAT).dup('c');
        int len = Math.toIntExact(c.length());
        float[] buf = arena.take(len);
        c.data().asNioFloat().get(buf, 0, len);
        return new Tensor(buf, a.shape().clone());
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}

package io.github.dsconv.it;

import org.bytedeco.hdf5.Attribute;
import org.bytedeco.hdf5.DataSet;
import org.bytedeco.hdf5.DataSpace;
import org.bytedeco.hdf5.Group;
import org.bytedeco.hdf5.H5File;
import org.bytedeco.hdf5.H5Object;
import org.bytedeco.hdf5.PredType;
import org.bytedeco.hdf5.StrType;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.hdf5.global.hdf5.H5F_ACC_TRUNC;
import static org.bytedeco.hdf5.global.hdf5.H5S_SCALAR;
import static org.bytedeco.hdf5.global.hdf5.H5T_STR_NULLPAD;

/**
 * Writes a Keras 2 "whole model" HDF5 file ({@code model.save("m.h5")}) with the HDF5 C++ API of the
 * {@code org.bytedeco:hdf5} presets, the same library DL4J's {@code Hdf5Archive} reads it with.
 *
 * <p>The layout is the one standalone Keras 2.x's {@code saving.py} writes through h5py: root attributes
 * {@code keras_version}, {@code backend} and {@code model_config} as fixed-length, null-padded byte strings (Keras
 * calls {@code .encode('utf8')} on each, which h5py stores as {@code S<n>}); a group {@code model_weights} with
 * the attribute {@code layer_names}; one group per layer with the attribute {@code weight_names} (an
 * {@code S<max>} array, e.g. {@code conv2d/kernel:0}); and each weight as a float32 dataset at
 * {@code model_weights/<layer>/<weight name>}, the slash in the weight name making a subgroup.
 */
final class KerasH5 {

    /**
     * One weight as Keras stores it.
     *
     * @param name  Keras weight name, e.g. {@code conv2d/kernel:0}
     * @param shape Keras shape, e.g. {@code [kh, kw, in, out]} for a Conv2D kernel
     * @param data  values in C order of {@code shape}
     */
    record Weight(String name, long[] shape, float[] data) {
        Weight {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (n != data.length) {
                throw new IllegalArgumentException(name + ": " + data.length + " values for shape "
                        + java.util.Arrays.toString(shape));
            }
        }
    }

    static {
        Loader.load(org.bytedeco.hdf5.global.hdf5.class);
    }

    private KerasH5() {
    }

    /**
     * Writes the file.
     *
     * @param file         target
     * @param kerasVersion e.g. {@code 2.4.0}
     * @param modelConfig  the model's JSON ({@code model.to_json()}), or null for a weights-only file
     *                     ({@code model.save_weights("w.h5")})
     * @param weights      weights by layer name, in model order (layers without weights map to an empty list)
     */
    static void write(Path file, String kerasVersion, String modelConfig, Map<String, List<Weight>> weights) {
        H5File f = new H5File(file.toString(), H5F_ACC_TRUNC());
        try {
            stringAttribute(f, "keras_version", kerasVersion);
            stringAttribute(f, "backend", "tensorflow");
            if (modelConfig != null) {
                stringAttribute(f, "model_config", modelConfig);
            }
            Group root = f.createGroup("model_weights");
            stringArrayAttribute(root, "layer_names", List.copyOf(weights.keySet()));
            stringAttribute(root, "keras_version", kerasVersion);
            stringAttribute(root, "backend", "tensorflow");
            for (Map.Entry<String, List<Weight>> e : weights.entrySet()) {
                Group layer = root.createGroup(e.getKey());
                stringArrayAttribute(layer, "weight_names", e.getValue().stream().map(Weight::name).toList());
                Map<String, Group> subgroups = new LinkedHashMap<>();
                for (Weight w : e.getValue()) {
                    int slash = w.name().lastIndexOf('/');
                    Group parent = slash < 0 ? layer : subgroups.computeIfAbsent(w.name().substring(0, slash),
                            layer::createGroup);
                    dataset(parent, w.name().substring(slash + 1), w);
                }
                subgroups.values().forEach(Group::_close);
                layer._close();
            }
            root._close();
        } finally {
            f._close();
        }
    }

    private static void dataset(Group parent, String name, Weight w) {
        DataSpace space = new DataSpace(w.shape().length, w.shape());
        DataSet ds = parent.createDataSet(name, PredType.IEEE_F32LE(), space);
        try (FloatPointer p = new FloatPointer(w.data())) {
            ds.write(p, PredType.NATIVE_FLOAT());
        }
        ds._close();
        space._close();
    }

    /** A scalar fixed-length, null-padded string, as h5py stores a Python {@code bytes} value. */
    private static void stringAttribute(H5Object loc, String name, String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        StrType type = new StrType(PredType.C_S1(), Math.max(1, bytes.length));
        type.setStrpad(H5T_STR_NULLPAD);
        DataSpace space = new DataSpace(H5S_SCALAR);
        write(loc.createAttribute(name, type, space), type, bytes);
        space._close();
        type._close();
    }

    /** A 1-D array of fixed-length strings padded to the longest, as h5py stores a numpy {@code S<n>} array. */
    private static void stringArrayAttribute(H5Object loc, String name, List<String> values) {
        int width = 1;
        for (String v : values) {
            width = Math.max(width, v.getBytes(StandardCharsets.UTF_8).length);
        }
        byte[] bytes = new byte[width * values.size()];
        for (int i = 0; i < values.size(); i++) {
            byte[] v = values.get(i).getBytes(StandardCharsets.UTF_8);
            System.arraycopy(v, 0, bytes, i * width, v.length);
        }
        StrType type = new StrType(PredType.C_S1(), width);
        type.setStrpad(H5T_STR_NULLPAD);
        DataSpace space = new DataSpace(1, new long[] {values.size()});
        write(loc.createAttribute(name, type, space), type, bytes);
        space._close();
        type._close();
    }

    private static void write(Attribute a, StrType type, byte[] bytes) {
        if (bytes.length > 0) {
            try (BytePointer p = new BytePointer(bytes)) {
                // The Pointer overload is H5Awrite on raw bytes; the BytePointer one would be the std::string one.
                a.write(type, (Pointer) p);
            }
        }
        a._close();
    }
}

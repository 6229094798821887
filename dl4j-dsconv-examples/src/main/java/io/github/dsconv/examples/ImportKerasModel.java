package io.github.dsconv.examples;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.nn.Network;
import io.github.dsconv.provenance.Provenance;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.modelimport.keras.Hdf5Archive;
import org.deeplearning4j.nn.modelimport.keras.KerasModel;
import org.deeplearning4j.nn.modelimport.keras.KerasModelImport;
import org.deeplearning4j.nn.modelimport.keras.KerasSequentialModel;
import org.deeplearning4j.nn.modelimport.keras.exceptions.InvalidKerasConfigurationException;
import org.deeplearning4j.nn.modelimport.keras.exceptions.UnsupportedKerasConfigurationException;
import org.deeplearning4j.nn.modelimport.keras.utils.KerasModelBuilder;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * Imports a Keras 2 model saved as one HDF5 file ({@code model.save("m.h5")}) with DL4J's
 * {@link KerasModelImport} and writes it as a ModelSerializer zip: a {@code Sequential} model becomes a
 * {@link MultiLayerNetwork}, a {@code Functional}/{@code Model} one a {@link ComputationGraph}. Channels-last
 * convolutions come out as {@link CNN2DFormat#NHWC} {@link ConvolutionLayer}s, which {@code quantize} converts like
 * any other.
 *
 * <p>The file is checked before DL4J sees it (exists, HDF5 signature, a {@code model_config} attribute naming a
 * model class), so that the usual mistakes get a one-line message naming the file instead of an HDF5 error stack.
 * The training configuration is not enforced: conversion needs inference only, and a Keras optimizer or loss DL4J
 * cannot map would otherwise block the import (the last Dense layer then stays a {@code DenseLayer}). After DL4J
 * has read the weights, each one's shape is checked against its layer's configuration ({@link KerasWeightShapes}:
 * DL4J itself would copy a wrong-sized kernel into part of the layer and leave the rest at its random
 * initialisation), and the imported model's parameters must all be finite.
 */
public final class ImportKerasModel {

    /** The 8-byte HDF5 superblock signature, at offset 0 or a power of two from 512 up (after a user block). */
    private static final byte[] HDF5_SIGNATURE = {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

    static {
        // HDF5 prints its own error stack to the native stderr on every failure; the messages here say enough.
        org.bytedeco.hdf5.Exception.dontPrint();
    }

    /**
     * Options.
     *
     * @param h5  the Keras HDF5 file
     * @param out the DL4J model file to write
     */
    public record Options(Path h5, Path out) {
    }

    /**
     * What was imported, as the {@code import-keras} command's JSON.
     *
     * @param h5              the Keras file
     * @param out             the DL4J model file written
     * @param kerasClass      Keras model class ({@code Sequential}, {@code Functional} or {@code Model})
     * @param kind            {@code MultiLayerNetwork} or {@code ComputationGraph}
     * @param layers          DL4J layers (graph vertices that hold a layer)
     * @param convLayers      plain {@link ConvolutionLayer}s, the ones {@code quantize} converts
     * @param otherConvLayers convolution subclasses (depthwise, separable, deconvolution, ...), left in FP32
     * @param params          parameters
     * @param dataFormat      the convolutions' layout: {@code NHWC}, {@code NCHW}, {@code mixed} or {@code none}
     * @param seconds         import time
     */
    public record Result(String h5, String out, String kerasClass, String kind, int layers, int convLayers,
                         int otherConvLayers, long params, String dataFormat, double seconds) {
    }

    private ImportKerasModel() {
    }

    /** Imports and writes the model and its provenance; nothing is written if anything fails. */
    public static Result run(Options o) throws IOException {
        long t0 = System.nanoTime();
        String kerasClass = kerasClass(o.h5());
        Model model = importModel(o.h5(), kerasClass);
        double seconds = (System.nanoTime() - t0) / 1e9;
        List<Layer> layers = layers(model);
        int plain = 0;
        int other = 0;
        TreeSet<String> formats = new TreeSet<>();
        for (Layer l : layers) {
            if (l instanceof ConvolutionLayer c) {
                if (l.getClass() == ConvolutionLayer.class) {
                    plain++;
                } else {
                    other++;
                }
                formats.add(c.getCnn2dDataFormat().name());
            }
        }
        String format = formats.isEmpty() ? "none" : formats.size() > 1 ? "mixed" : formats.first();
        Result r = new Result(o.h5().toString(), o.out().toString(), kerasClass, model.getClass().getSimpleName(),
                layers.size(), plain, other, model.numParams(), format, seconds);
        ModelFiles.save(model, o.out(), false);
        Provenance.record().source(o.h5().toString()).stamp().set("result", Json.MAPPER.valueToTree(r))
                .writeFor(o.out());
        return r;
    }

    /**
     * Imports a Keras HDF5 file as a {@link MultiLayerNetwork} or {@link ComputationGraph}, checking every weight
     * array's shape against its layer's configuration ({@link KerasWeightShapes}) and every imported parameter to be
     * finite ({@link ModelChecks#requireFinite}).
     *
     * @throws IOException one line naming the file and what is wrong
     */
    public static Model importModel(Path h5) throws IOException {
        return importModel(h5, kerasClass(h5));
    }

    /**
     * DL4J's {@code KerasModelImport.importKerasModelAndWeights} (or its Sequential variant) spelled out, so that
     * the weight shapes can be checked against the configuration between reading the weights and copying them:
     * DL4J's copy does not compare shapes (see {@link KerasWeightShapes}).
     */
    private static Model importModel(Path h5, String kerasClass) throws IOException {
        boolean sequential = kerasClass.equals("Sequential");
        Model model;
        try (KerasModelBuilder b = new KerasModel().modelBuilder().modelHdf5Filename(h5.toString())
                .enforceTrainingConfig(false)) {
            if (sequential) {
                KerasSequentialModel k = b.buildSequential();
                KerasWeightShapes.checkFile(h5, KerasWeightShapes.confs(k.getMultiLayerConfiguration()));
                model = k.getMultiLayerNetwork();
                KerasWeightShapes.checkImported(h5, k, model);
            } else {
                KerasModel k = b.buildModel();
                KerasWeightShapes.checkFile(h5, KerasWeightShapes.confs(k.getComputationGraphConfiguration()));
                model = k.getComputationGraph();
                KerasWeightShapes.checkImported(h5, k, model);
            }
        } catch (UnsupportedKerasConfigurationException e) {
            throw new IOException(h5 + ": not supported by DL4J's Keras import (" + firstLine(e) + ")", e);
        } catch (InvalidKerasConfigurationException e) {
            throw new IOException(h5 + ": invalid Keras model (" + firstLine(e) + ")", e);
        } catch (RuntimeException e) {
            // HDF5 read errors and shape mismatches between config and weights surface as runtime exceptions.
            throw new IOException(h5 + ": cannot import (" + firstLine(e) + ")", e);
        }
        try {
            ModelChecks.requireFinite(model, h5.toString());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        return model;
    }

    /**
     * The Keras model class recorded in the file's {@code model_config} attribute, after checking that the file
     * exists and is HDF5.
     */
    static String kerasClass(Path h5) throws IOException {
        if (!Files.isRegularFile(h5)) {
            throw new IOException("Keras file not found: " + h5);
        }
        if (!hasHdf5Signature(h5)) {
            throw new IOException(h5 + ": not an HDF5 file (no HDF5 signature; expected a Keras model.save() .h5)");
        }
        String config;
        try (Hdf5Archive archive = new Hdf5Archive(h5.toString())) {
            if (!archive.hasAttribute("model_config")) {
                throw new IOException(h5 + ": no model_config attribute (a weights-only file? save the whole "
                        + "model with model.save(\"m.h5\"))");
            }
            config = archive.readAttributeAsJson("model_config");
        } catch (UnsupportedKerasConfigurationException | RuntimeException e) {
            throw new IOException(h5 + ": unreadable HDF5 file (" + firstLine(e) + ")", e);
        }
        JsonNode cls;
        try {
            // DL4J reads the attribute into a padded buffer: parse the first JSON value, ignore what follows.
            cls = Json.MAPPER.readTree(config.replace("\u0000", " ").trim()).get("class_name");
        } catch (IOException e) {
            throw new IOException(h5 + ": model_config is not JSON (" + firstLine(e) + ")", e);
        }
        String name = cls == null ? null : cls.asText();
        if (!List.of("Sequential", "Functional", "Model").contains(name)) {
            throw new IOException(h5 + ": unsupported Keras model class '" + name + "' (expected Sequential, "
                    + "Functional or Model)");
        }
        return name;
    }

    static boolean hasHdf5Signature(Path file) throws IOException {
        long size = Files.size(file);
        byte[] head = new byte[HDF5_SIGNATURE.length];
        try (InputStream in = Files.newInputStream(file)) {
            long pos = 0;
            for (long offset = 0; offset + head.length <= size; offset = offset == 0 ? 512 : offset * 2) {
                in.skipNBytes(offset - pos);
                in.readNBytes(head, 0, head.length);
                pos = offset + head.length;
                if (Arrays.equals(head, HDF5_SIGNATURE)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static List<Layer> layers(Model model) {
        List<Layer> out = new ArrayList<>();
        org.deeplearning4j.nn.api.Layer[] ls = Network.of(model).dl4jLayers();
        for (org.deeplearning4j.nn.api.Layer l : ls) {
            out.add(l.conf().getLayer());
        }
        return out;
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).trim();
    }
}

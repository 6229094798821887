package io.github.dsconv.pack;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.files.AtomicFiles;
import io.github.dsconv.nn.Network;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.pack.PackedContainer.BadFileException;
import io.github.dsconv.pack.PackedLayout.Slot;
import io.github.dsconv.provenance.Provenance;
import io.github.dsconv.provenance.Recordable;
import io.github.dsconv.quant.ScalePrecision;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The packed DSConv model file, {@code *.dsconv.zip} (format version 1): a converted network stored at the
 * precision the spec's Storage paragraph (section 1) prescribes, read back into a DL4J
 * {@link MultiLayerNetwork} or {@link ComputationGraph}.
 *
 * <p>The file is a zip with these entries:
 * <ul>
 *   <li>{@code dsconv.format}, first and uncompressed, holding the ASCII marker {@code "dsconv packed model\n"}:
 *       a reader recognises the format from the file's first bytes (as ODF and EPUB do with their
 *       {@code mimetype} entry), whatever the file is called;</li>
 *   <li>{@code network.json}: the network configuration ({@code conf.toJson()});</li>
 *   <li>{@code params/0000}, {@code params/0001}, ...: one per layer parameter, in the order of the flat
 *       parameter vector (layers in topological order, each layer's parameters in its initializer's order);</li>
 *   <li>{@code dsconv.manifest.json}: a {@link PackedManifest} (format version, model kind, the
 *       {@code ConversionPlan}, provenance, the segment table and a SHA-256 per entry), and
 *       {@code dsconv.manifest.sha256}, the SHA-256 of the manifest.</li>
 * </ul>
 *
 * <p>How each parameter is stored (little endian):
 * <ul>
 *   <li>DSConv {@code q}: packed at the layer's weight bits with {@link BitPacker} ({@code int2} .. {@code int8});</li>
 *   <li>DSConv {@code alpha}, {@code beta}, {@code gamma}, {@code delta}: at the layer's
 *       {@link DSConvLayer#getScalePrecision() scale precision} (fp16, fp32 for the network's first convolution);
 *       the converter already rounds them so, so nothing changes. Scales trained in fp32 later (distillation)
 *       are rounded to that precision on writing;</li>
 *   <li>kernels of convolutions left unconverted (skipped by the plan): fp32, they were kept on purpose;</li>
 *   <li>everything else (dense and output layers, batch norm including its running mean and variance, every
 *       bias): the {@link Options#paramsPrecision() params precision}, fp16 by default, fp32 as an option.</li>
 * </ul>
 * An fp16 parameter with a finite value beyond the fp16 range is stored in fp32 instead (the segment says so).
 * Updater state is not stored: a loaded network infers and can be fine-tuned, but its optimizer starts afresh.
 *
 * <p>Loading rebuilds the network from {@code network.json}, decodes every segment into a new flat parameter
 * vector and calls {@code init(params, false)}. With fp32 params the loaded network computes bit-identically
 * to the one written; with fp16 params it computes bit-identically to the written network with its parameters
 * replaced by {@link #storedParams}. Reading verifies the marker, the manifest checksum, the format version, the
 * entry set and every entry's size and SHA-256, so a truncated or corrupt file fails with a one-line
 * {@link IOException} naming the file instead of loading as a different model. Writing goes to a temporary
 * file that is moved into place.
 *
 * <p>This class is the public face of the format; the work is split by concern: {@link PackedContainer} (the zip,
 * marker, manifest and checksums), {@link ParamCodec} (the fp32, fp16 and bit-packed integer encodings) and
 * {@link PackedLayout} (which slice of DL4J's flat parameter vector is which parameter, and at what precision
 * it is stored).
 */
public final class PackedModelFormat {

    /** The format version this code writes and the only one it reads. */
    public static final int FORMAT_VERSION = PackedContainer.FORMAT_VERSION;
    /** The file name suffix that selects this format when saving. */
    public static final String SUFFIX = ".dsconv.zip";
    /** Library name and version recorded in the provenance ({@link Provenance#LIBRARY}). */
    public static final String LIBRARY = Provenance.LIBRARY;

    static final String MARKER_ENTRY = PackedContainer.MARKER_ENTRY;
    static final String MANIFEST_ENTRY = PackedContainer.MANIFEST_ENTRY;
    static final String MANIFEST_SHA_ENTRY = PackedContainer.MANIFEST_SHA_ENTRY;
    static final String NETWORK_ENTRY = PackedContainer.NETWORK_ENTRY;
    static final String PARAMS_PREFIX = "params/";

    private PackedModelFormat() {
    }

    /**
     * Writing options.
     *
     * @param paramsPrecision precision of the parameters other than DSConv kernels and scales and unconverted
     *                        convolution kernels. Defaults to {@link ScalePrecision#FP16}.
     * @param plan            the conversion plan to record (JSON), or {@code null}. Defaults to none.
     * @param source          file name of the model packed, for the provenance, or {@code null}. Defaults to none.
     */
    public record Options(ScalePrecision paramsPrecision, JsonNode plan, String source) {

        public Options {
            java.util.Objects.requireNonNull(paramsPrecision, "paramsPrecision");
        }

        /** fp16 params, no plan, no source. */
        public static Options defaults() {
            return new Options(ScalePrecision.FP16, null, null);
        }

        /** A copy with another params precision. */
        public Options withParamsPrecision(ScalePrecision p) {
            return new Options(p, plan, source);
        }

        /** A copy recording this plan (a {@code ConversionPlan}) by its JSON form. */
        public Options withPlan(Recordable p) {
            return new Options(paramsPrecision, p == null ? null : p.toJson(), source);
        }

        /** A copy recording this source file name. */
        public Options withSource(String s) {
            return new Options(paramsPrecision, plan, s);
        }
    }

    /**
     * What a write produced.
     *
     * @param file                the file written
     * @param fileBytes           its size
     * @param convWeightBytes     encoded bytes of the convolution kernels inside (DSConv {@code q} and scales,
     *                            unconverted kernels), before zip compression; conv biases are not counted
     * @param fp32ConvWeightBytes the same kernels in FP32 (4 bytes a weight)
     * @param otherParamBytes     encoded bytes of every other parameter, before zip compression
     * @param manifest            the manifest written
     */
    public record Written(Path file, long fileBytes, long convWeightBytes, long fp32ConvWeightBytes,
                          long otherParamBytes, PackedManifest manifest) {
    }

    /** Whether a file name ends with {@link #SUFFIX} (case-insensitive). */
    public static boolean hasPackedSuffix(Path file) {
        return file.getFileName() != null
                && file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(SUFFIX);
    }

    /** Whether a file starts like a packed model: a zip whose first entry is {@code dsconv.format}. */
    public static boolean isPacked(Path file) {
        return PackedContainer.isPacked(file);
    }

    /** Whether an open zip holds a packed model's marker or manifest (for files whose first bytes are damaged). */
    public static boolean looksPacked(ZipFile zip) {
        return PackedContainer.looksPacked(zip);
    }

    // -------------------------------------------------------------------------------------------------------
    // writing

    /**
     * Writes a network (parameters of data type FLOAT) as a packed file, atomically.
     *
     * @throws IllegalArgumentException if the network is not FLOAT or a DSConv {@code q} holds a value that is
     *                                  not an integer of the layer's bit width
     */
    public static Written write(Model model, Path file, Options options) throws IOException {
        Network net = PackedLayout.network(model);
        List<Slot> slots = PackedLayout.slots(net, options.paramsPrecision());
        INDArray flat = PackedLayout.flatParams(net);
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = AtomicFiles.tempFor(target);
        try {
            List<PackedManifest.Segment> segments = new ArrayList<>();
            long convBytes = 0;
            long fp32ConvBytes = 0;
            long otherBytes = 0;
            PackedManifest manifest;
            try (PackedContainer.Writer zip = PackedContainer.Writer.create(tmp)) {
                zip.put(NETWORK_ENTRY, net.configJson().getBytes(StandardCharsets.UTF_8));
                for (int i = 0; i < slots.size(); i++) {
                    Slot s = slots.get(i);
                    ParamCodec.Encoded enc = ParamCodec.encode(s.layer(), s.bits(), s.precision(), s.values(flat));
                    String name = String.format(java.util.Locale.ROOT, "%s%04d", PARAMS_PREFIX, i);
                    zip.put(name, enc.bytes());
                    segments.add(new PackedManifest.Segment(s.layer(), s.param(), s.offset(), s.length(),
                            enc.encoding(), name));
                    if (s.convKernel()) {
                        convBytes += enc.bytes().length;
                        if (s.kernelWeights()) {
                            fp32ConvBytes += 4L * s.length();
                        }
                    } else {
                        otherBytes += enc.bytes().length;
                    }
                }
                manifest = new PackedManifest(FORMAT_VERSION, net.kind(), DataType.FLOAT.name(),
                        flat.length(), options.paramsPrecision().name(), options.plan(),
                        PackedManifest.Provenance.of(options.source(), PackedLayout.weightBits(slots)),
                        segments, zip.entries());
                zip.finish(manifest);
            }
            long size = Files.size(tmp);
            AtomicFiles.moveIntoPlace(tmp, target); // or staged until an open OutputSet commits
            return new Written(target, size, convBytes, fp32ConvBytes, otherBytes, manifest);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * The flat parameter vector exactly as a packed file written with this params precision holds it (fp16
     * values rounded half to even, everything else unchanged). A loaded file has these parameters.
     */
    public static INDArray storedParams(Model model, ScalePrecision paramsPrecision) {
        Network net = PackedLayout.network(model);
        INDArray flat = PackedLayout.flatParams(net);
        INDArray out = Nd4j.create(DataType.FLOAT, 1, flat.length());
        for (Slot s : PackedLayout.slots(net, paramsPrecision)) {
            ParamCodec.Encoded e = ParamCodec.encode(s.layer(), s.bits(), s.precision(), s.values(flat));
            out.get(NDArrayIndex.point(0), NDArrayIndex.interval(s.offset(), s.offset() + s.length()))
                    .assign(Nd4j.createFromArray(ParamCodec.decode(e.encoding(), e.bytes(), (int) s.length())));
        }
        return out;
    }

    // -------------------------------------------------------------------------------------------------------
    // reading

    /** Reads a packed model; every failure is an {@link IOException} with a one-line message naming the file. */
    public static Model read(Path file) throws IOException {
        return open(file, true).model();
    }

    /** Reads and verifies a packed file's manifest (and every entry's checksum) without building the network. */
    public static PackedManifest readManifest(Path file) throws IOException {
        return open(file, false).manifest();
    }

    private record Loaded(PackedManifest manifest, Model model) {
    }

    private static Loaded open(Path file, boolean build) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("model file not found: " + file);
        }
        try (ZipFile zip = new ZipFile(file.toFile())) {
            return read(PackedContainer.open(zip), build);
        } catch (BadFileException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        } catch (ZipException e) {
            throw new IOException(file + ": truncated or corrupt packed model (not a readable zip: "
                    + PackedContainer.firstLine(e) + ")", e);
        } catch (IOException | RuntimeException e) {
            throw new IOException(file + ": corrupt packed model (" + PackedContainer.firstLine(e) + ")", e);
        }
    }

    private static Loaded read(PackedContainer.Contents zip, boolean build) throws IOException {
        PackedManifest m = zip.manifest();
        byte[] conf = zip.verified(NETWORK_ENTRY);
        if (!build) {
            for (PackedManifest.Segment s : m.segments()) {
                zip.verified(s.entry());
            }
            return new Loaded(m, null);
        }
        if (!DataType.FLOAT.name().equals(m.dataType())) {
            throw new BadFileException("corrupt packed model (data type " + m.dataType() + ", expected FLOAT)");
        }
        ScalePrecision pp;
        try {
            pp = ScalePrecision.valueOf(m.paramsPrecision());
        } catch (IllegalArgumentException e) {
            throw new BadFileException("corrupt packed model (params precision '" + m.paramsPrecision() + "')");
        }
        Network net = PackedLayout.fromJson(m.modelKind(),
                new String(conf, StandardCharsets.UTF_8));
        INDArray flat = Nd4j.create(DataType.FLOAT, 1, m.numParams());
        net.init(flat, false);
        List<Slot> slots = PackedLayout.slots(net, pp);
        if (slots.size() != m.segments().size()) {
            throw new BadFileException("corrupt packed model (" + m.segments().size() + " parameter segments, the"
                    + " network has " + slots.size() + ")");
        }
        // the rebuilt network's layout must be the one the file was written with, segment by segment
        INDArray row = flat.reshape(flat.length());
        for (int i = 0; i < slots.size(); i++) {
            Slot s = slots.get(i);
            PackedManifest.Segment g = m.segments().get(i);
            if (!g.layer().equals(s.layer()) || !g.param().equals(s.param()) || g.offset() != s.offset()
                    || g.length() != s.length() || !ParamCodec.accepts(s.encoding(), g.encoding())) {
                throw new BadFileException("corrupt packed model (segment " + i + " " + g.layer() + "/" + g.param()
                        + " does not match the network's " + s.layer() + "/" + s.param() + ")");
            }
            float[] values = ParamCodec.decode(g.encoding(), zip.verified(g.entry()), (int) g.length());
            row.get(NDArrayIndex.interval(s.offset(), s.offset() + s.length())).assign(Nd4j.createFromArray(values));
        }
        return new Loaded(m, net.model());
    }

    /** SHA-256 of some bytes, lower-case hex (as the manifest records it). */
    static String sha256(byte[] b) {
        return PackedContainer.sha256(b);
    }
}

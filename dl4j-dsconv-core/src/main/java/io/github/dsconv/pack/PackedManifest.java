package io.github.dsconv.pack;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The manifest of a packed model file ({@code dsconv.manifest.json}), see {@link PackedModelFormat}.
 *
 * @param formatVersion   packed format version; this code reads and writes {@link PackedModelFormat#FORMAT_VERSION}
 * @param modelKind       {@code MultiLayerNetwork} or {@code ComputationGraph}
 * @param dataType        the network's parameter data type (always {@code FLOAT} in version 1)
 * @param numParams       length of the network's flat parameter vector
 * @param paramsPrecision precision of the parameters that are neither DSConv kernels/scales nor unconverted
 *                        convolution kernels: {@code FP16} (default) or {@code FP32}
 * @param plan            the {@code ConversionPlan} JSON the network was converted with, or {@code null} if unknown
 * @param provenance      how the file was made
 * @param segments        the flat parameter vector, one segment per layer parameter, in order
 * @param entries         every zip entry but the format marker and the manifest itself, with its checksum
 */
public record PackedManifest(int formatVersion, String modelKind, String dataType, long numParams,
                             String paramsPrecision, JsonNode plan, Provenance provenance, List<Segment> segments,
                             List<Entry> entries) {

    public PackedManifest {
        Objects.requireNonNull(modelKind, "modelKind");
        Objects.requireNonNull(dataType, "dataType");
        Objects.requireNonNull(paramsPrecision, "paramsPrecision");
        Objects.requireNonNull(provenance, "provenance");
        segments = List.copyOf(Objects.requireNonNull(segments, "segments"));
        entries = List.copyOf(Objects.requireNonNull(entries, "entries"));
    }

    /**
     * How the file was made: the fields every provenance record shares ({@code library}, {@code source},
     * {@code created}, see {@link io.github.dsconv.provenance.Provenance}) and the DSConv weight bits. A record
     * of its own rather than a {@code Provenance} object because the manifest is read strictly (unknown fields
     * are an error) and its field order is part of the format's bytes.
     *
     * @param library    library name and version that wrote the file
     * @param source     file name of the model it was packed from, or {@code null}
     * @param created    creation time (ISO-8601 instant)
     * @param weightBits weight bits of every DSConv layer by layer name, in network order
     */
    public record Provenance(String library, String source, String created, Map<String, Integer> weightBits) {
        public Provenance {
            weightBits = weightBits == null ? Map.of() : java.util.Collections.unmodifiableMap(
                    new java.util.LinkedHashMap<>(weightBits));
        }

        /** This library's provenance for a file written now. */
        public static Provenance of(String source, Map<String, Integer> weightBits) {
            return new Provenance(io.github.dsconv.provenance.Provenance.LIBRARY, source,
                    io.github.dsconv.provenance.Provenance.now(), weightBits);
        }
    }

    /**
     * One parameter of one layer: a slice of the flat parameter vector and how it is stored.
     *
     * @param layer    layer (vertex) name
     * @param param    parameter key ({@code q}, {@code alpha}, {@code W}, {@code mean}, ...)
     * @param offset   first index in the flat parameter vector
     * @param length   number of values
     * @param encoding {@code int2} .. {@code int8} (packed signed integers, see {@link BitPacker}), {@code fp16}
     *                 or {@code fp32} (little endian)
     * @param entry    zip entry holding the encoded values
     */
    public record Segment(String layer, String param, long offset, long length, String encoding, String entry) {
    }

    /**
     * A zip entry and its checksum.
     *
     * @param name   entry name
     * @param bytes  uncompressed size
     * @param sha256 SHA-256 of the uncompressed bytes, lower-case hex
     */
    public record Entry(String name, long bytes, String sha256) {
    }
}

package io.github.dsconv.pack;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * The zip container of a packed model, whatever the entries hold: the uncompressed {@code dsconv.format} marker
 * first, then the content entries, then {@code dsconv.manifest.json} (a {@link PackedManifest} listing every
 * content entry with its size and SHA-256) and {@code dsconv.manifest.sha256}, the SHA-256 of the manifest.
 *
 * <p>Writing records each entry's checksum as it goes ({@link Writer}). Opening ({@link #open}) checks the
 * marker, the manifest checksum, the format version and that the zip holds exactly the entries the manifest
 * lists; {@link Contents#verified} then checks an entry's size and checksum when it is read. Which entries exist
 * and what they hold is {@link PackedModelFormat}'s business; this class only knows that {@code network.json} is
 * required.
 */
final class PackedContainer {

    /** The format version this code writes and the only one it reads. */
    static final int FORMAT_VERSION = 1;

    static final String MARKER_ENTRY = "dsconv.format";
    static final byte[] MARKER = "dsconv packed model\n".getBytes(StandardCharsets.US_ASCII);
    static final String MANIFEST_ENTRY = "dsconv.manifest.json";
    static final String MANIFEST_SHA_ENTRY = "dsconv.manifest.sha256";
    static final String NETWORK_ENTRY = "network.json";

    private static final long MAX_MANIFEST_BYTES = 64L << 20;
    private static final byte[] ZIP_LOCAL_HEADER = {'P', 'K', 3, 4};
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private PackedContainer() {
    }

    /** Whether a file starts like a packed model: a zip whose first entry is {@code dsconv.format}. */
    static boolean isPacked(Path file) {
        byte[] head = new byte[30 + MARKER_ENTRY.length()];
        try (InputStream in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, head.length) != head.length) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        if (!Arrays.equals(head, 0, 4, ZIP_LOCAL_HEADER, 0, 4)) {
            return false;
        }
        // the name length of the first local file header (offset 26), then the name itself (offset 30)
        int nameLen = (head[26] & 0xff) | (head[27] & 0xff) << 8;
        return nameLen == MARKER_ENTRY.length() && new String(head, 30, nameLen, StandardCharsets.US_ASCII)
                .equals(MARKER_ENTRY);
    }

    /** Whether an open zip holds a packed model's marker or manifest (for files whose first bytes are damaged). */
    static boolean looksPacked(ZipFile zip) {
        return zip.getEntry(MARKER_ENTRY) != null || zip.getEntry(MANIFEST_ENTRY) != null;
    }

    // -------------------------------------------------------------------------------------------------------
    // writing

    /** Writes a container: the marker on creation, content entries with {@link #put}, the manifest last. */
    static final class Writer implements Closeable {

        private final ZipOutputStream zip;
        private final List<PackedManifest.Entry> entries = new ArrayList<>();

        private Writer(ZipOutputStream zip) {
            this.zip = zip;
        }

        /** A new container in {@code file} (replaced), its marker written. */
        static Writer create(Path file) throws IOException {
            OutputStream fos = Files.newOutputStream(file);
            Writer w = new Writer(new ZipOutputStream(new BufferedOutputStream(fos, 1 << 16)));
            try {
                w.putMarker();
            } catch (IOException | RuntimeException e) {
                w.close();
                throw e;
            }
            return w;
        }

        /** The marker is STORED (uncompressed), so its name and bytes sit at fixed offsets for {@link #isPacked}. */
        private void putMarker() throws IOException {
            ZipEntry marker = new ZipEntry(MARKER_ENTRY);
            marker.setMethod(ZipEntry.STORED);
            marker.setSize(MARKER.length);
            marker.setCompressedSize(MARKER.length);
            CRC32 crc = new CRC32();
            crc.update(MARKER);
            marker.setCrc(crc.getValue());
            zip.putNextEntry(marker);
            zip.write(MARKER);
            zip.closeEntry();
        }

        /** Adds a content entry and records its size and checksum for the manifest. */
        void put(String name, byte[] bytes) throws IOException {
            entries.add(putEntry(name, bytes));
        }

        /** The content entries written so far, in order, with their checksums. */
        List<PackedManifest.Entry> entries() {
            return List.copyOf(entries);
        }

        /** Writes the manifest (which lists the content entries) and its checksum; nothing may follow. */
        void finish(PackedManifest manifest) throws IOException {
            byte[] mbytes = JSON.writeValueAsBytes(manifest);
            putEntry(MANIFEST_ENTRY, mbytes);
            putEntry(MANIFEST_SHA_ENTRY, (sha256(mbytes) + "\n").getBytes(StandardCharsets.US_ASCII));
        }

        private PackedManifest.Entry putEntry(String name, byte[] bytes) throws IOException {
            zip.putNextEntry(new ZipEntry(name));
            zip.write(bytes);
            zip.closeEntry();
            return new PackedManifest.Entry(name, bytes.length, sha256(bytes));
        }

        @Override
        public void close() throws IOException {
            zip.close();
        }
    }

    // -------------------------------------------------------------------------------------------------------
    // reading

    /** A problem with the file's content, worded for the user. */
    static final class BadFileException extends IOException {
        BadFileException(String message) {
            super(message);
        }

        BadFileException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** An opened container whose manifest and entry set are verified; entries are verified as they are read. */
    record Contents(ZipFile zip, PackedManifest manifest, Map<String, PackedManifest.Entry> entries) {

        /** A listed entry's bytes, checked against the size and SHA-256 the manifest records. */
        byte[] verified(String name) throws IOException {
            PackedManifest.Entry e = entries.get(name);
            ZipEntry ze = zip.getEntry(e.name());
            byte[] b = readEntry(zip, ze, e.bytes());
            if (b.length != e.bytes() || !sha256(b).equals(e.sha256())) {
                throw new BadFileException("corrupt packed model (checksum mismatch in " + e.name() + ")");
            }
            return b;
        }
    }

    /**
     * Checks the marker, the manifest's checksum and format version (the version before the checksum's presence,
     * so that a future format without that entry is reported as a version problem), parses the manifest and
     * checks the zip's entries against it.
     */
    static Contents open(ZipFile zip) throws IOException {
        ZipEntry markerEntry = zip.getEntry(MARKER_ENTRY);
        if (markerEntry == null || !Arrays.equals(MARKER, readEntry(zip, markerEntry, MARKER.length))) {
            throw new BadFileException("not a packed DSConv model (missing or bad " + MARKER_ENTRY + " marker)");
        }
        ZipEntry me = zip.getEntry(MANIFEST_ENTRY);
        if (me == null) {
            throw new BadFileException("corrupt packed model (no " + MANIFEST_ENTRY + ")");
        }
        byte[] mbytes = readEntry(zip, me, MAX_MANIFEST_BYTES);
        JsonNode tree;
        try {
            tree = JSON.readTree(mbytes);
        } catch (JsonProcessingException e) {
            throw new BadFileException("corrupt packed model (manifest is not valid JSON)", e);
        }
        ZipEntry se = zip.getEntry(MANIFEST_SHA_ENTRY);
        if (se != null) {
            String want = new String(readEntry(zip, se, 256), StandardCharsets.US_ASCII);
            if (!want.equals(sha256(mbytes) + "\n")) {
                throw new BadFileException("corrupt packed model (manifest checksum mismatch)");
            }
        }
        JsonNode v = tree == null ? null : tree.get("formatVersion");
        if (v == null || !v.isInt()) {
            throw new BadFileException("corrupt packed model (manifest has no integer formatVersion)");
        }
        if (v.intValue() != FORMAT_VERSION) {
            throw new BadFileException("unsupported packed format version " + v.intValue() + " (this build reads "
                    + FORMAT_VERSION + ")");
        }
        if (se == null) {
            throw new BadFileException("corrupt packed model (no " + MANIFEST_SHA_ENTRY + ")");
        }
        PackedManifest m;
        try {
            m = JSON.treeToValue(tree, PackedManifest.class);
        } catch (JsonProcessingException | IllegalArgumentException e) {
            throw new BadFileException("corrupt packed model (bad manifest: " + firstLine(e) + ")", e);
        }
        return new Contents(zip, m, checkEntrySet(zip, m));
    }

    /** The zip must hold exactly the listed entries plus marker and manifest: nothing missing, nothing extra. */
    private static Map<String, PackedManifest.Entry> checkEntrySet(ZipFile zip, PackedManifest m)
            throws BadFileException {
        Map<String, PackedManifest.Entry> byName = new LinkedHashMap<>();
        for (PackedManifest.Entry e : m.entries()) {
            if (byName.put(e.name(), e) != null) {
                throw new BadFileException("corrupt packed model (entry " + e.name() + " listed twice)");
            }
        }
        if (!byName.containsKey(NETWORK_ENTRY)) {
            throw new BadFileException("corrupt packed model (manifest lists no " + NETWORK_ENTRY + ")");
        }
        for (PackedManifest.Segment s : m.segments()) {
            if (!byName.containsKey(s.entry())) {
                throw new BadFileException("corrupt packed model (segment entry " + s.entry() + " not listed)");
            }
        }
        Set<String> expected = new TreeSet<>(byName.keySet());
        expected.addAll(List.of(MARKER_ENTRY, MANIFEST_ENTRY, MANIFEST_SHA_ENTRY));
        Set<String> actual = new TreeSet<>();
        Enumeration<? extends ZipEntry> en = zip.entries();
        while (en.hasMoreElements()) {
            actual.add(en.nextElement().getName());
        }
        if (!actual.equals(expected)) {
            Set<String> missing = new TreeSet<>(expected);
            missing.removeAll(actual);
            Set<String> extra = new TreeSet<>(actual);
            extra.removeAll(expected);
            throw new BadFileException("corrupt packed model (entries missing: " + missing + ", unexpected: "
                    + extra + ")");
        }
        return byName;
    }

    /** Reads an entry, at most {@code limit} bytes plus one (so an oversized entry shows as too long). */
    private static byte[] readEntry(ZipFile zip, ZipEntry e, long limit) throws IOException {
        try (InputStream in = zip.getInputStream(e)) {
            return in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
        }
    }

    /** SHA-256 of some bytes, lower-case hex. */
    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The first line of an exception's message, for one-line errors. */
    static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return (nl < 0 ? m : m.substring(0, nl)).strip();
    }
}

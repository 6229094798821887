package io.github.dsconv.files;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Write-to-temp-then-move helpers, so no reader ever sees a partial output file.
 *
 * <p>Every temporary file of this project is named {@code .<target name>.<pid>-<random>.dsconv-tmp} beside its
 * target: the process id lets a later run tell a leftover of a killed process (removed by
 * {@link #removeStale(Path)}, which every command calls for each of its outputs before it starts) from a file
 * another running process is still writing (left alone).
 *
 * <p>While an {@link OutputSet} is open on this thread and declares the target, {@link #moveIntoPlace} does not
 * replace the target: it hands the finished file to the set, which moves all its files into place together on
 * {@link OutputSet#commit()}, or none of them.
 */
public final class AtomicFiles {

    /** Suffix of this project's temporary files. */
    static final String TMP_SUFFIX = ".dsconv-tmp";

    private AtomicFiles() {
    }

    /**
     * A new, empty, owner-only temporary file beside {@code target} (whose folder must exist), named so that
     * {@link #removeStale(Path)} recognises it.
     */
    public static Path tempFor(Path target) throws IOException {
        Path t = target.toAbsolutePath();
        removeStale(t);
        String name = "." + t.getFileName() + "." + ProcessHandle.current().pid() + "-"
                + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + TMP_SUFFIX;
        Path tmp = t.resolveSibling(name);
        Files.createFile(tmp);
        if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        }
        return tmp;
    }

    /**
     * Moves a finished temporary file onto the target, atomically where the file system allows; or, when an open
     * {@link OutputSet} declares the target, stages it for that set's commit. The target gets the usual
     * {@code rw-r--r--} on POSIX systems.
     */
    public static void moveIntoPlace(Path tmp, Path target) throws IOException {
        if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
        }
        OutputSet set = OutputSet.declaring(target);
        if (set != null) {
            set.stage(tmp, target);
            return;
        }
        replace(tmp, target);
    }

    /** Moves {@code from} onto {@code to}, replacing it; atomically where the file system allows. */
    static void replace(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Writes a text file atomically (UTF-8). */
    public static void writeString(Path file, String text) throws IOException {
        writeBytes(file, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes a file atomically; its folder is created if missing. */
    public static void writeBytes(Path file, byte[] bytes) throws IOException {
        Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path tmp = tempFor(target);
        try {
            Files.write(tmp, bytes);
            moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Removes the temporary files that processes no longer running left beside {@code target} (a SIGKILL
     * between writing and moving). Files of live processes are kept. Returns how many were removed.
     */
    public static int removeStale(Path target) throws IOException {
        Path t = target.toAbsolutePath();
        Path dir = t.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return 0;
        }
        String prefix = "." + t.getFileName() + ".";
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, p -> {
            String n = p.getFileName().toString();
            return n.startsWith(prefix) && n.endsWith(TMP_SUFFIX);
        })) {
            for (Path p : files) {
                String n = p.getFileName().toString();
                String mid = n.substring(prefix.length(), n.length() - TMP_SUFFIX.length());
                int dash = mid.indexOf('-');
                long pid;
                try {
                    pid = Long.parseLong(dash < 0 ? mid : mid.substring(0, dash));
                } catch (NumberFormatException e) {
                    continue; // not one of ours
                }
                if (pid == ProcessHandle.current().pid()
                        || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                    continue; // still being written
                }
                if (Files.deleteIfExists(p)) {
                    removed++;
                }
            }
        }
        return removed;
    }
}

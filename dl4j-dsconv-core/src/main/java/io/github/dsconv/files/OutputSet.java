package io.github.dsconv.files;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The files one run reads and writes, checked before any work and written all-or-nothing.
 *
 * <p>{@link Builder#open()} refuses, with one line naming the option and the path, an input that is missing or
 * of the wrong kind (a folder given as a file or the reverse), an output that resolves (through symbolic links,
 * {@code ..} and hard links) to an input or to another output, an output that is an existing folder or was
 * written with a trailing {@code /}, and an output whose folder is missing or not writable. It also removes the
 * temporary files that killed runs left beside the outputs ({@link AtomicFiles#removeStale}).
 *
 * <p>While the set is open on this thread, every {@link AtomicFiles#moveIntoPlace} onto a declared output (or
 * into a declared output folder) is staged instead of replacing the file. {@link #commit()} then moves all staged
 * files into place, keeping a hard link (or copy) of each file it replaces until all moves succeeded and
 * restoring them if one fails. {@link #close()} without a commit deletes what was staged and any output folder
 * the run created, so a failed or refused run leaves every existing file as it was and creates none.
 *
 * <p>Work folders (a distillation checkpoint) are checked like outputs but written immediately: they must
 * survive a crash. Writing an undeclared file while a set is open is a programming error and throws.
 */
public final class OutputSet implements AutoCloseable {

    private static final ThreadLocal<OutputSet> OPEN = new ThreadLocal<>();

    private final List<Declared> files;
    private final List<Declared> folders;
    private final List<Declared> workFolders; // grows by scratchFolder()
    private final List<Path> createdFolders = new ArrayList<>();
    private final Map<Path, Path> staged = new LinkedHashMap<>();
    private final OutputSet outer;
    private boolean committed;
    private boolean closed;

    private record Declared(String label, Path path, Path canonical) {
    }

    private OutputSet(List<Declared> files, List<Declared> folders, List<Declared> workFolders) {
        this.files = files;
        this.folders = folders;
        this.workFolders = workFolders;
        this.outer = OPEN.get();
    }

    /** A builder; declare every input and output, then {@link Builder#open()}. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Declares, on the set open on this thread (if any), a folder of scratch files that are written at once and
     * that the caller removes itself (e.g. a measurement's temporary copies). Without an open set it does nothing.
     */
    public static void scratchFolder(Path dir) {
        OutputSet set = OPEN.get();
        if (set != null) {
            set.workFolders.add(new Declared("scratch folder", dir, canonical(dir)));
        }
    }

    /** The set open on this thread that declares {@code target}, or null when none is open. */
    static OutputSet declaring(Path target) {
        OutputSet set = OPEN.get();
        if (set == null) {
            return null;
        }
        Path c = canonical(target);
        for (Declared d : set.files) {
            if (d.canonical.equals(c)) {
                return set;
            }
        }
        for (Declared d : set.folders) {
            if (d.canonical.equals(c.getParent())) {
                return set;
            }
        }
        for (Declared d : set.workFolders) {
            if (c.startsWith(d.canonical)) {
                return null; // written at once
            }
        }
        throw new IllegalStateException("internal error: " + target + " is written but was not declared as an "
                + "output of this run");
    }

    /** Takes over a finished temporary file for {@code target}. */
    synchronized void stage(Path tmp, Path target) throws IOException {
        if (closed || committed) {
            throw new IllegalStateException("output set already " + (committed ? "committed" : "closed"));
        }
        Path t = target.toAbsolutePath();
        Path keep = AtomicFiles.tempFor(t);
        AtomicFiles.replace(tmp, keep);
        Path previous = staged.put(t, keep);
        if (previous != null) {
            Files.deleteIfExists(previous);
        }
    }

    /** The files staged so far, by target (for messages and tests). */
    public synchronized List<Path> stagedTargets() {
        return List.copyOf(staged.keySet());
    }

    /**
     * Moves every staged file into place. If any move fails, the files already moved are put back as they were
     * and the error is rethrown; nothing is left half-written.
     */
    public synchronized void commit() throws IOException {
        if (closed || committed) {
            throw new IllegalStateException("output set already " + (committed ? "committed" : "closed"));
        }
        Deque<Path[]> done = new ArrayDeque<>(); // {target, backup or null}
        try {
            for (Map.Entry<Path, Path> e : staged.entrySet()) {
                Path target = e.getKey();
                Path backup = null;
                if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                    backup = AtomicFiles.tempFor(target);
                    Files.delete(backup);
                    try {
                        Files.createLink(backup, target);
                    } catch (IOException | UnsupportedOperationException noLinks) {
                        Files.copy(target, backup);
                    }
                }
                done.push(new Path[] {target, backup});
                AtomicFiles.replace(e.getValue(), target);
            }
        } catch (IOException | RuntimeException failure) {
            for (Path[] d : done) {
                try {
                    if (d[1] != null) {
                        AtomicFiles.replace(d[1], d[0]);
                    } else {
                        Files.deleteIfExists(d[0]);
                    }
                } catch (IOException rollback) {
                    failure.addSuppressed(rollback);
                }
            }
            throw failure;
        }
        for (Path[] d : done) {
            if (d[1] != null) {
                Files.deleteIfExists(d[1]);
            }
        }
        staged.clear();
        committed = true;
    }

    /** Deletes whatever was staged but not committed, and the output folders this run created but left empty. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (OPEN.get() == this) {
            if (outer == null) {
                OPEN.remove();
            } else {
                OPEN.set(outer);
            }
        }
        IOException first = null;
        for (Path p : staged.values()) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        staged.clear();
        if (!committed) {
            for (Path dir : createdFolders) {
                try (var s = Files.list(dir)) {
                    if (s.findAny().isEmpty()) {
                        Files.deleteIfExists(dir);
                    }
                } catch (IOException e) {
                    first = first == null ? e : first;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * The path with every existing part resolved (symbolic links, {@code ..}) and the rest appended, so that two
     * spellings of one file compare equal before the file exists.
     */
    static Path canonical(Path p) {
        Path a = p.toAbsolutePath();
        Deque<Path> rest = new ArrayDeque<>();
        Path existing = a;
        while (existing != null && !Files.exists(existing)) {
            rest.push(existing.getFileName());
            existing = existing.getParent();
        }
        Path c;
        try {
            c = existing == null ? a.getRoot() : existing.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (Path r : rest) {
            c = c.resolve(r);
        }
        return c.normalize();
    }

    private static boolean same(Path a, Path ca, Path b, Path cb) {
        if (ca.equals(cb)) {
            return true;
        }
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b); // hard links, case folding
        } catch (IOException e) {
            return false;
        }
    }

    /** Declares the inputs and outputs of a run; {@link #open()} checks them all. */
    public static final class Builder {
        private final List<Declared> inputs = new ArrayList<>();
        private final List<Declared> inputFolders = new ArrayList<>();
        private final List<Declared> files = new ArrayList<>();
        private final List<Declared> folders = new ArrayList<>();
        private final List<Declared> workFolders = new ArrayList<>();
        private final List<String> problems = new ArrayList<>();
        private final List<Declared> awaitingFolder = new ArrayList<>();
        private Function<String, String> spelling = label -> null;

        private Builder() {
        }

        /**
         * How the user wrote each option (label -> text), so that an output written as {@code dir/} is refused
         * although {@link Path} drops the trailing separator.
         */
        public Builder spelling(Function<String, String> asWritten) {
            this.spelling = asWritten;
            return this;
        }

        /** An input file (ignored when null): it must exist and be a readable regular file. */
        public Builder input(String label, Path file) {
            if (file != null) {
                if (!Files.exists(file)) {
                    problems.add(label + " " + file + ": does not exist");
                } else if (Files.isDirectory(file)) {
                    problems.add(label + " " + file + ": is a folder, not a file");
                } else if (!Files.isRegularFile(file)) {
                    problems.add(label + " " + file + ": is not a regular file");
                } else if (!Files.isReadable(file)) {
                    problems.add(label + " " + file + ": not readable");
                } else {
                    inputs.add(new Declared(label, file, canonical(file)));
                }
            }
            return this;
        }

        /**
         * A file the run reads if it exists (ignored when null or absent), such as a model's provenance file:
         * no output may overwrite it.
         */
        public Builder inputIfExists(String label, Path file) {
            if (file != null && Files.exists(file)) {
                input(label, file);
            }
            return this;
        }

        /** An input folder (ignored when null): it must exist and be a folder. */
        public Builder inputFolder(String label, Path dir) {
            if (dir != null) {
                if (!Files.exists(dir)) {
                    problems.add(label + " " + dir + ": does not exist");
                } else if (!Files.isDirectory(dir)) {
                    problems.add(label + " " + dir + ": is a file, not a folder");
                } else {
                    inputFolders.add(new Declared(label, dir, canonical(dir)));
                }
            }
            return this;
        }

        /** An output file (ignored when null), written through {@link AtomicFiles} and committed with the set. */
        public Builder output(String label, Path file) {
            if (file == null) {
                return this;
            }
            if (file.toString().isEmpty()) {
                problems.add(label + ": empty file name");
                return this;
            }
            String written = spelling.apply(label);
            if (written != null && (written.endsWith("/") || written.endsWith(java.io.File.separator))) {
                problems.add(label + " " + written + ": ends with a separator, so it names a folder; give a file "
                        + "name");
                return this;
            }
            if (Files.isDirectory(file)) {
                problems.add(label + " " + file + ": is an existing folder; give a file name");
                return this;
            }
            if (Files.exists(file) && !Files.isRegularFile(file)) {
                problems.add(label + " " + file + ": exists and is not a regular file");
                return this;
            }
            Path folder = file.toAbsolutePath().getParent();
            if (folder != null && !Files.exists(folder)) {
                // Allowed only inside an output folder this run creates (e.g. --json demo-out/demo.json beside
                // --plot-dir demo-out): decided in open(), when every folder has been declared.
                files.add(new Declared(label, file, canonical(file)));
                awaitingFolder.add(files.get(files.size() - 1));
            } else if (checkFolder(label, file, folder)) {
                files.add(new Declared(label, file, canonical(file)));
            }
            return this;
        }

        /**
         * An output folder (ignored when null) whose files the run names itself (plots, arrays): created if
         * missing (its parent must exist), its files committed with the set.
         */
        public Builder outputFolder(String label, Path dir) {
            if (dir != null && folderLike(label, dir)) {
                folders.add(new Declared(label, dir, canonical(dir)));
            }
            return this;
        }

        /** A folder written during the run and kept whatever happens (a checkpoint); checked like an output. */
        public Builder workFolder(String label, Path dir) {
            if (dir != null && folderLike(label, dir)) {
                workFolders.add(new Declared(label, dir, canonical(dir)));
            }
            return this;
        }

        private boolean folderLike(String label, Path dir) {
            if (Files.exists(dir) && !Files.isDirectory(dir)) {
                problems.add(label + " " + dir + ": exists and is not a folder");
                return false;
            }
            if (Files.isDirectory(dir)) {
                if (!Files.isWritable(dir)) {
                    problems.add(label + " " + dir + ": folder is not writable");
                    return false;
                }
                return true;
            }
            return checkFolder(label, dir, dir.toAbsolutePath().getParent());
        }

        private boolean checkFolder(String label, Path what, Path folder) {
            if (folder == null || !Files.exists(folder)) {
                problems.add(label + " " + what + ": its folder " + folder + " does not exist");
                return false;
            }
            if (!Files.isDirectory(folder)) {
                problems.add(label + " " + what + ": " + folder + " is not a folder");
                return false;
            }
            if (!Files.isWritable(folder)) {
                problems.add(label + " " + what + ": its folder " + folder + " is not writable");
                return false;
            }
            return true;
        }

        /**
         * Checks everything declared, removes stale temporary files beside the outputs, and opens the set on this
         * thread.
         *
         * @throws IllegalArgumentException naming the first problem found (one line)
         */
        public OutputSet open() throws IOException {
            for (Declared f : awaitingFolder) {
                Path folder = f.canonical.getParent();
                if (folders.stream().noneMatch(d -> d.canonical.equals(folder))) {
                    problems.add(f.label + " " + f.path + ": its folder " + f.path.toAbsolutePath().getParent()
                            + " does not exist");
                }
            }
            List<Declared> outs = new ArrayList<>(files);
            outs.addAll(folders);
            outs.addAll(workFolders);
            List<Declared> ins = new ArrayList<>(inputs);
            ins.addAll(inputFolders);
            for (int i = 0; i < outs.size() && problems.isEmpty(); i++) {
                Declared o = outs.get(i);
                for (Declared in : ins) {
                    if (same(o.path, o.canonical, in.path, in.canonical)) {
                        problems.add(o.label + " " + o.path + " is the same file as " + in.label
                                + " (an output must not overwrite an input)");
                        break;
                    }
                }
                for (int j = 0; j < i && problems.isEmpty(); j++) {
                    Declared p = outs.get(j);
                    if (same(o.path, o.canonical, p.path, p.canonical)) {
                        problems.add(o.label + " " + o.path + " is the same file as " + p.label);
                    }
                }
            }
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException(problems.get(0));
            }
            for (Declared f : files) {
                AtomicFiles.removeStale(f.path);
            }
            OutputSet set = new OutputSet(List.copyOf(files), List.copyOf(folders), new ArrayList<>(workFolders));
            for (Declared d : folders) {
                if (!Files.exists(d.path)) {
                    Files.createDirectory(d.path);
                    set.createdFolders.add(d.path);
                }
            }
            OPEN.set(set);
            return set;
        }
    }
}

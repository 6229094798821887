package io.github.dsconv.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import io.github.dsconv.files.OutputSet;
import io.github.dsconv.provenance.Version;

import java.io.PrintWriter;
import java.util.List;

/**
 * {@code ./dsconv}: train small models (or import Keras ones), convert them to DSConv, evaluate, inspect and run
 * the demo.
 * Errors print one line ({@code dsconv: error: ...}) and exit with status 1; bad usage exits with 2.
 */
@Command(name = "dsconv", mixinStandardHelpOptions = true, versionProvider = DsconvCli.VersionProvider.class,
        description = "DSConv (ICCV 2019) quantized convolutions for Deeplearning4j models.",
        subcommands = {TrainCommand.class, QuantizeCommand.class, EvaluateCommand.class, InspectCommand.class,
            DemoCommand.class, TableCommand.class, ZooCommand.class, DistillCommand.class, ImportKerasCommand.class,
            BenchCommand.class, SensitivityCommand.class, SearchCommand.class})
public final class DsconvCli implements Runnable {

    /** {@code --version}: the library's version from the build ({@link Version}), never written out by hand. */
    public static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {Version.NAME + " " + Version.release()};
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /**
     * Builds the command line: option values and files are checked before a command runs, outputs are committed
     * only when it succeeds, and every error is one line.
     */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new DsconvCli());
        cl.setExecutionStrategy(DsconvCli::executeChecked);
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            err.println("dsconv: error: " + oneLine(ex));
            if (System.getenv("DSCONV_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        // A usage mistake is one line with a pointer to --help, not picocli's usage dump.
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            PrintWriter err = c.getErr();
            String hint = "";
            if (ex instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
                hint = "; did you mean " + String.join(" or ", u.getSuggestions().stream().limit(3).toList()) + "?";
            }
            err.println("dsconv: error: " + oneLine(ex) + hint + " (see '" + c.getCommandSpec().qualifiedName()
                    + " --help')");
            err.flush();
            return c.getCommandSpec().exitCodeOnInvalidInput();
        });
        return cl;
    }

    /**
     * Runs the chosen command inside an {@link OutputSet}: options validated and files declared and checked
     * first, outputs committed together when it returns 0, discarded otherwise.
     */
    private static int executeChecked(CommandLine.ParseResult parseResult) {
        List<CommandLine> chain = parseResult.asCommandLineList();
        CommandLine last = chain.get(chain.size() - 1);
        boolean help = chain.stream().anyMatch(c -> c.isUsageHelpRequested() || c.isVersionHelpRequested());
        if (help || !(last.getCommand() instanceof DeclaresFiles command)) {
            return new CommandLine.RunLast().execute(parseResult);
        }
        OutputSet files;
        try {
            command.validate();
            OutputSet.Builder b = OutputSet.builder().spelling(label -> asWritten(last.getParseResult(), label));
            command.declare(b);
            files = b.open();
        } catch (Exception e) {
            throw new CommandLine.ExecutionException(last, oneLine(e), e);
        }
        try (files) {
            int code = new CommandLine.RunLast().execute(parseResult);
            if (code == 0) {
                files.commit();
            }
            return code;
        } catch (java.io.IOException e) {
            throw new CommandLine.ExecutionException(last, oneLine(e), e);
        }
    }

    /** The text the user gave for an option, before picocli turned it into a value (null if not given). */
    private static String asWritten(CommandLine.ParseResult pr, String option) {
        CommandLine.Model.OptionSpec o = pr.matchedOption(option);
        if (o == null || o.originalStringValues().isEmpty()) {
            return null;
        }
        List<String> v = o.originalStringValues();
        return v.get(v.size() - 1);
    }

    static String oneLine(Throwable ex) {
        Throwable t = ex;
        String msg = t.getMessage();
        while ((msg == null || msg.isBlank()) && t.getCause() != null) {
            t = t.getCause();
            msg = t.getMessage();
        }
        if (msg == null) {
            msg = t.getClass().getSimpleName();
        }
        int nl = msg.indexOf('\n');
        return nl < 0 ? msg : msg.substring(0, nl);
    }

    public static void main(String[] args) {
        int code = commandLine().execute(args);
        System.exit(code);
    }
}

package io.github.dsconv.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * {@code ./dsconv}: train small models (or import Keras ones), convert them to DSConv, evaluate, inspect and run
 * the demo.
 * Errors print one line ({@code dsconv: error: ...}) and exit with status 1; bad usage exits with 2.
 */
@Command(name = "dsconv", mixinStandardHelpOptions = true, version = "dl4j-dsconv 0.1.0",
        description = "DSConv (ICCV 2019) quantized convolutions for Deeplearning4j models.",
        subcommands = {TrainCommand.class, QuantizeCommand.class, EvaluateCommand.class, InspectCommand.class,
            DemoCommand.class, TableCommand.class, ZooCommand.class, DistillCommand.class, ImportKerasCommand.class,
            BenchCommand.class, SensitivityCommand.class})
public final class DsconvCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Builds the command line with the one-line error handler. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new DsconvCli());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            err.println("dsconv: error: " + oneLine(ex));
            if (System.getenv("DSCONV_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        return cl;
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

package io.github.dsconv.cli;

import io.github.dsconv.examples.QuantizeModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code dsconv quantize}: converts a model's convolutions to DSConv. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Convert every ConvolutionLayer of a DL4J model to DSConv (no data needed).")
final class QuantizeCommand implements Callable<Integer> {

    @Option(names = "--in", required = true, description = "FP32 model file (ModelSerializer zip).")
    Path in;

    @Option(names = "--out", required = true, description = "Converted model file to write; a name ending in"
            + " .dsconv.zip writes the packed format (q at its bit width, fp16 scales and params).")
    Path out;

    @Option(names = "--weight-bits", description = "Weight bits, 2-8 (default 4, or the plan's).")
    Integer weightBits;

    @Option(names = "--act-bits", description = "BFP activation bits incl. sign, 0 = off (default 8, or the plan's).")
    Integer actBits;

    @Option(names = "--block", description = "Block size along input channels (default 32, or the plan's).")
    Integer block;

    @Option(names = "--skip-first", description = "Leave the first convolution in FP32.")
    boolean skipFirst;

    @Option(names = "--plan", description = "Conversion plan JSON (per-layer bits/block/skip).")
    Path plan;

    @Option(names = "--method", defaultValue = "dsconv",
            description = "dsconv, rtn-per-channel or rtn-per-tensor (default ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--kds-bias", description = "Fit the per-block KDS shift beta.")
    boolean kdsBias;

    @Option(names = "--cds", description = "Add the per-channel CDS scale and shift (for distillation).")
    boolean cds;

    @Option(names = "--clip-search", description = "Search the clipping ratio per block (helps at 2-3 bits).")
    boolean clipSearch;

    @Option(names = "--params-precision", description = "fp16 (default) or fp32: precision of the non-conv"
            + " parameters (dense, BN, biases) in a packed .dsconv.zip output.")
    String paramsPrecision;

    @Option(names = "--bias-correct", defaultValue = "0", paramLabel = "N", description = "Bias correction (DFQ-style,"
            + " not in the DSConv paper): remove each layer's expected output shift, measured on the first N "
            + "Fashion-MNIST training images (features only; models with 28x28x1 input). 0 = off (default).")
    int biasCorrect;

    @Option(names = "--weighted-fit", defaultValue = "0", paramLabel = "N", description = "Activation-weighted "
            + "kernel fit (not in the DSConv paper): weigh each input channel's error by its mean square, measured on"
            + " the first N Fashion-MNIST training images (features only; models with 28x28x1 input). 0 = off "
            + "(default).")
    int weightedFit;

    @Option(names = "--hessian-round", defaultValue = "0", paramLabel = "N", description = "Hessian-aware rounding"
            + " (AdaRound's objective, GPTQ's solver; not in the DSConv paper): choose q to minimise each layer's "
            + "output error on the first N Fashion-MNIST training images (features only; models with 28x28x1 "
            + "input). 0 = off (default).")
    int hessianRound;

    @Option(names = "--json", description = "Write the conversion report as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        QuantizeModel.Options o = new QuantizeModel.Options(in, out, weightBits, actBits, block, skipFirst, plan,
                method, kdsBias, cds, clipSearch, paramsPrecision, biasCorrect, weightedFit, hessianRound);
        QuantizeModel.Result r = QuantizeModel.run(o);
        System.out.print(r.table());
        if (r.packed() != null) {
            System.out.println(r.packed().line());
        }
        System.out.println("wrote " + r.out());
        JsonOutput.write(json, r.json());
        return 0;
    }
}

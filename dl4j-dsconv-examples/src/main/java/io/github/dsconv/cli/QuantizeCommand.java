package io.github.dsconv.cli;

import io.github.dsconv.examples.QuantizeModel;
import io.github.dsconv.ptq.Rounding;
import io.github.dsconv.quant.AdaRoundSolver;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code dsconv quantize}: converts a model's convolutions to DSConv. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Convert every ConvolutionLayer of a DL4J model to DSConv: without data the paper's conversion;"
                + " with --calibration-data also Hessian-aware rounding and bias correction on unlabelled images.")
final class QuantizeCommand implements Callable<Integer>, DeclaresFiles {

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

    @Option(names = "--min-compression", paramLabel = "R", description = "Leave in FP32 every convolution that DSConv"
            + " would make less than R times smaller (a stem on 1-3 channels: a scale per 1-3 weights). Default 3, or "
            + "the plan's; 0 converts every convolution.")
    Double minCompression;

    @Option(names = "--unsigned-activations", description = "BFP blocks whose values are all non-negative (ReLU "
            + "outputs, raw pixels) get one more mantissa bit (not in the paper; such layers run on the float "
            + "simulation under --engine integer).")
    boolean unsignedActivations;

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
            + " not in the DSConv paper) on the first N calibration images (--calibration-data, else Fashion-MNIST's "
            + "training split). 0 = off unless the default recipe runs.")
    int biasCorrect;

    @Option(names = "--weighted-fit", defaultValue = "0", paramLabel = "N", description = "Activation-weighted "
            + "kernel fit (not in the DSConv paper) on the first N calibration images. 0 = off (default).")
    int weightedFit;

    @Option(names = "--hessian-round", defaultValue = "0", paramLabel = "N", description = "Hessian-aware rounding"
            + " (AdaRound's objective, GPTQ's solver; not in the DSConv paper) on the first N calibration images: "
            + "--rounding hessian on N images. 0 = off unless the default recipe runs. Giving any of --bias-correct, "
            + "--weighted-fit, --hessian-round replaces the default recipe with exactly those steps.")
    int hessianRound;

    @Option(names = "--rounding", paramLabel = "nearest|hessian|adaround", description = "How each kernel's "
            + "integers are chosen on its grid: nearest (as converted), hessian (Hessian-aware, GPTQ-style; the "
            + "default with calibration data) or adaround (AdaRound, Nagel et al. 2020). Without counts it runs on "
            + "--calibration-images images, followed by bias correction.")
    String rounding;

    @Option(names = "--adaround-iterations", defaultValue = "" + AdaRoundSolver.Options.DEFAULT_ITERATIONS,
            paramLabel = "N", description = "AdaRound's Adam steps per layer (default ${DEFAULT-VALUE}).")
    int adaRoundIterations;

    @Option(names = "--adaround-inputs", defaultValue = "fp32", paramLabel = "fp32|quantized", description =
            "Inputs AdaRound reconstructs each layer's output from: the FP32 network's (default) or the quantized "
            + "network's with the layers before already rounded (the paper's asymmetric variant; one pass a layer).")
    String adaRoundInputs;

    @Option(names = "--equalize", description = "Cross-layer equalisation (DFQ, Nagel et al. 2019; data-free) of "
            + "conv -> ReLU -> conv pairs before the conversion; BN is folded first. Pairs across a branch or a "
            + "non-ReLU activation are skipped and listed in the JSON.")
    boolean equalize;

    @Mixin
    CalibrationOptions calibration = new CalibrationOptions();

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--json", description = "Write the conversion report as JSON to this file.")
    Path json;

    @Override
    public void validate() {
        OptionChecks.weightBits("--weight-bits", weightBits);
        OptionChecks.actBits("--act-bits", actBits);
        OptionChecks.block("--block", block);
        if (minCompression != null) {
            OptionChecks.range("--min-compression", minCompression, 0, 1e6);
        }
        OptionChecks.range("--bias-correct", biasCorrect, 0, 1_000_000);
        OptionChecks.range("--weighted-fit", weightedFit, 0, 1_000_000);
        OptionChecks.range("--hessian-round", hessianRound, 0, 1_000_000);
        OptionChecks.range("--adaround-iterations", adaRoundIterations, 1, 1_000_000);
        if (rounding != null) {
            try {
                Rounding.parse(rounding);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--rounding: " + e.getMessage(), e);
            }
            if (hessianRound > 0 && !"hessian".equals(rounding)) {
                throw new IllegalArgumentException("--hessian-round N is --rounding hessian on N images; it cannot "
                        + "go with --rounding " + rounding);
            }
        }
        if (!"fp32".equals(adaRoundInputs) && !"quantized".equals(adaRoundInputs)) {
            throw new IllegalArgumentException("--adaround-inputs must be fp32 or quantized, got '" + adaRoundInputs
                    + "'");
        }
        OptionChecks.range("--calibration-images", calibration.images, 1, 1_000_000);
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        OptionChecks.modelOutput(files, "--out", out);
        OptionChecks.modelInput(files, "--in", in);
        files.input("--plan", plan).output("--json", json);
        OptionChecks.dataFolder(files, "--calibration-data", calibration.data);
    }

    @Override
    public Integer call() throws Exception {
        io.github.dsconv.data.ImageSource source = calibration.open(preprocessing);
        io.github.dsconv.data.InputSpec spec = null;
        if (preprocessing.imageSize != null) {
            spec = DataOptions.specOf(io.github.dsconv.io.ModelFiles.load(in), preprocessing);
        }
        QuantizeModel.Options o = new QuantizeModel.Options(in, out, weightBits, actBits, block, skipFirst, plan,
                method, kdsBias, cds, clipSearch, paramsPrecision, biasCorrect, weightedFit, hessianRound, source,
                calibration.images, spec, minCompression, unsignedActivations, rounding, adaRoundIterations,
                "quantized".equals(adaRoundInputs), equalize);
        QuantizeModel.Result r = QuantizeModel.run(o);
        System.out.print(r.table());
        System.out.println("recipe: " + r.ptq().recipe().describe() + (r.ptq().calibrationData() == null ? ""
                : " on " + r.ptq().calibrationData()));
        if (r.ptq().equalization() != null) {
            var eq = r.ptq().equalization();
            System.out.printf(java.util.Locale.ROOT, "equalisation: %d pair(s) equalised, %d convolution(s) not the "
                    + "start of an eligible pair (reasons in the JSON)%n", eq.pairs().size(), eq.skipped().size());
        }
        for (io.github.dsconv.calibrate.BiasCorrection.Correction c : r.ptq().biasCorrections()) {
            if ("none".equals(c.target())) {
                System.out.printf(java.util.Locale.ROOT, "bias correction: layer %s has no bias and no batch norm "
                        + "after it; its expected output shift (up to %.3g) is left in place%n", c.layer(),
                        c.maxAbsShift());
            }
        }
        if (r.packed() != null) {
            System.out.println(r.packed().line());
        }
        System.out.println("wrote " + r.out());
        JsonOutput.write(json, r.json());
        return 0;
    }
}

package io.github.dsconv.cli;

import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.examples.ZooConversion;
import io.github.dsconv.zoo.ZooModels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dsconv zoo}: converts a full-size model and compares it with its FP32 original. */
@Command(name = "zoo", mixinStandardHelpOptions = true,
        description = "Build a full-size model (random init, DL4J pretrained weights, or a weights file), convert "
                + "every convolution to DSConv and compare outputs with the FP32 model.")
final class ZooCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--model", required = true, description = "resnet50, vgg16, vgg19, googlenet or densenet121.")
    String model;

    @Option(names = "--pretrained", description = "Load DL4J's pretrained weights (e.g. imagenet): from DL4J's cache "
            + "or by download.")
    String pretrained;

    @Option(names = "--weights", description = "A ModelSerializer zip of this model with trained weights.")
    Path weights;

    @Option(names = "--weight-bits", defaultValue = "4", description = "Weight bits (default ${DEFAULT-VALUE}).")
    int weightBits;

    @Option(names = "--act-bits", defaultValue = "8", description = "BFP activation bits (default ${DEFAULT-VALUE}).")
    int actBits;

    @Option(names = "--block", defaultValue = "32", description = "Block size (default ${DEFAULT-VALUE}).")
    int block;

    @Option(names = "--images", defaultValue = "8", description = "Comparison inputs (default ${DEFAULT-VALUE}).")
    int images;

    @Option(names = "--seed", defaultValue = "42", description = "Random-init seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", description = "Write the converted model to this file.")
    Path out;

    @Option(names = "--packed-sizes", description = "Also write the FP32 ModelSerializer zip and the packed "
            + ".dsconv.zip (fp16 params) to a temporary folder, reload the packed file and report both sizes.")
    boolean packedSizes;

    @Option(names = "--json", description = "Write the result as JSON to this file.")
    Path json;

    @Override
    public void validate() {
        OptionChecks.weightBits("--weight-bits", weightBits);
        OptionChecks.actBits("--act-bits", actBits);
        OptionChecks.block("--block", block);
        OptionChecks.range("--images", images, 1, 100_000);
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        OptionChecks.modelInput(files, "--weights", weights);
        files.output("--out", out).output("--json", json);
    }

    @Override
    public Integer call() throws Exception {
        if (pretrained != null && weights != null) {
            throw new IllegalArgumentException("--pretrained and --weights are exclusive");
        }
        if (!ZooModels.NAMES.contains(model.toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("unknown --model '" + model + "' (expected one of "
                    + String.join(", ", ZooModels.NAMES) + ")");
        }
        ZooConversion.Result r = ZooConversion.run(new ZooConversion.Options(model.toLowerCase(Locale.ROOT),
                pretrained, weights, new LayerSpec(weightBits, actBits, block), images, seed, out, packedSizes));
        System.out.printf(Locale.ROOT, "%s: %d/%d convolutions replaced, conv weights %d -> %d bytes (%.2fx), "
                        + "converted in %.2f s; logits SQNR %.2f dB, top-1 agreement %.3f on %d inputs%n",
                r.model(), r.replaced(), r.convLayers(), r.fp32WeightBytes(), r.dsconvWeightBytes(),
                (double) r.fp32WeightBytes() / r.dsconvWeightBytes(), r.seconds(), r.logitsSqnrDb(),
                r.top1Agreement(), images);
        if (r.packed() != null) {
            ZooConversion.PackedSizes p = r.packed();
            System.out.printf(Locale.ROOT, "packed: FP32 zip %d bytes -> .dsconv.zip %d bytes (%.2fx); conv weights "
                            + "inside %d of FP32 %d bytes (%.2fx); other params %d bytes; write %.2f s, read %.2f s; "
                            + "reloaded logits %s%n", p.fp32ZipBytes(), p.packedFileBytes(), p.fileRatio(),
                    p.packedConvWeightBytes(), p.fp32ConvWeightBytes(), p.convRatio(), p.otherParamBytes(),
                    p.writeSeconds(), p.readSeconds(), p.reloadedIdentical() ? "bit-identical" : "DIFFER");
        }
        JsonOutput.write(json, r);
        return 0;
    }
}

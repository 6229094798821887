package io.github.dsconv.cli;

import io.github.dsconv.data.ChannelOrder;
import io.github.dsconv.data.Preprocessing;
import picocli.CommandLine.Option;

/** The image preprocessing options every command that reads images shares ({@code @Mixin}). */
final class PreprocessingOptions {

    @Option(names = "--scale", defaultValue = "1/255", paramLabel = "S", description = "Pixel scale: raw pixels "
            + "0..255 are multiplied by S, a decimal or a fraction (default ${DEFAULT-VALUE}; 1 keeps 0..255).")
    String scale;

    @Option(names = "--mean", paramLabel = "a,b,c", description = "Per-channel mean subtracted after scaling "
            + "(e.g. 0.485,0.456,0.406; default none).")
    String mean;

    @Option(names = "--std", paramLabel = "a,b,c", description = "Per-channel std divided by after the mean "
            + "(e.g. 0.229,0.224,0.225; default none).")
    String std;

    @Option(names = "--bgr", description = "Hand colour channels over as blue, green, red (default: red, green, blue, "
            + "as Keras and PyTorch models expect).")
    boolean bgr;

    @Option(names = "--image-size", paramLabel = "HxW", description = "Resize images to HxW (HxWxC also accepted; C "
            + "must be the model's channels) when the model does not fix its input size (default: the model's size, "
            + "else the first image's).")
    String imageSize;

    /** The preprocessing, validated. */
    Preprocessing preprocessing() {
        return Preprocessing.defaults().withScale(scale).withMean(Preprocessing.parseList("--mean", mean))
                .withStd(Preprocessing.parseList("--std", std)).withChannelOrder(bgr ? ChannelOrder.BGR
                        : ChannelOrder.RGB);
    }

    /** {@code --image-size} as {height, width} or {height, width, channels}, or null. */
    int[] size() {
        if (imageSize == null) {
            return null;
        }
        String[] p = imageSize.trim().toLowerCase(java.util.Locale.ROOT).split("x", -1);
        try {
            if (p.length == 2 || p.length == 3) {
                int h = Integer.parseInt(p[0]);
                int w = Integer.parseInt(p[1]);
                int c = p.length == 3 ? Integer.parseInt(p[2]) : 0;
                if (h > 0 && w > 0 && h <= 8192 && w <= 8192 && (p.length == 2 || c == 1 || c == 3)) {
                    return p.length == 2 ? new int[] {h, w} : new int[] {h, w, c};
                }
            }
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("--image-size must look like 32x32 or 32x32x3 (height x width [x 1 or 3 "
                + "channels], 1..8192), got '"
                + imageSize + "'");
    }
}

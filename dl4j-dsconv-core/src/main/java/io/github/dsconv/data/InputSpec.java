package io.github.dsconv.data;

import org.deeplearning4j.nn.conf.CNN2DFormat;

/**
 * The image input a model takes: channels, size and layout.
 *
 * @param channels 1 (grey) or 3 (colour)
 * @param height   image height in pixels, or 0 when the model does not fix it (images keep their own size;
 *                 fully convolutional networks with global pooling take any)
 * @param width    image width in pixels, or 0 as for height
 * @param layout   {@link CNN2DFormat#NCHW} ({@code [n, c, h, w]}, DL4J's default) or {@link CNN2DFormat#NHWC}
 *                 ({@code [n, h, w, c]}, what Keras {@code channels_last} models import as)
 */
public record InputSpec(int channels, int height, int width, CNN2DFormat layout) {

    public InputSpec {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("image models must take 1 (grey) or 3 (colour) input channels, this "
                    + "one takes " + channels);
        }
        if (height < 0 || width < 0 || (height == 0) != (width == 0)) {
            throw new IllegalArgumentException("input size must be positive (or 0x0 for any), got " + height + "x"
                    + width);
        }
        if (layout == null) {
            throw new IllegalArgumentException("layout must be NCHW or NHWC");
        }
    }

    /** Whether the model fixes the image size. */
    public boolean hasSize() {
        return height > 0;
    }

    /** This spec with a fixed size. */
    public InputSpec withSize(int height, int width) {
        return new InputSpec(channels, height, width, layout);
    }

    /** e.g. {@code 32x32x3 NHWC}. */
    public String describe() {
        return (hasSize() ? height + "x" + width : "any size") + "x" + channels + " " + layout;
    }
}

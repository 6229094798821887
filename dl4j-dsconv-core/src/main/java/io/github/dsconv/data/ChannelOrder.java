package io.github.dsconv.data;

/**
 * The order of a colour image's channels as the model expects them. Keras, PyTorch and most published models
 * expect {@link #RGB}; Caffe-era models {@link #BGR}. Grey images have one channel and no order.
 */
public enum ChannelOrder {
    /** Red, green, blue (the default). */
    RGB,
    /** Blue, green, red (OpenCV's own order). */
    BGR
}

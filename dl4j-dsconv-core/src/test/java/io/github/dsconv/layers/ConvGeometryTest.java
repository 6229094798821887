package io.github.dsconv.layers;

import org.deeplearning4j.exception.DL4JInvalidConfigException;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link ConvGeometry}: output sizes and padding computed by hand for DL4J's rule. */
class ConvGeometryTest {

    private static ConvolutionLayer conv(int k, int stride, int pad, int dilation, ConvolutionMode mode,
                                         CNN2DFormat f) {
        return new ConvolutionLayer.Builder(k, k).stride(stride, stride).padding(pad, pad)
                .dilation(dilation, dilation).convolutionMode(mode).dataFormat(f).nIn(3).nOut(4).build();
    }

    /** The geometry of a 3x3 layer on a batch of 2 NCHW images of 3 channels, {@code side x side}. */
    private static ConvGeometry on(int side, int stride, int pad, int dilation, ConvolutionMode mode) {
        return ConvGeometry.of(conv(3, stride, pad, dilation, mode, CNN2DFormat.NCHW),
                Nd4j.zeros(DataType.FLOAT, 2, 3, side, side));
    }

    /** Output size, top padding and bottom padding (rows; the layers are square). */
    private static void assertRows(ConvGeometry g, int out, int top, int bottom) {
        assertEquals(out, g.outH(), "output height");
        assertEquals(out, g.outW(), "output width");
        assertEquals(top, g.padTop(), "top padding");
        assertEquals(top, g.padLeft(), "left padding");
        assertEquals(bottom, g.padBottom(), "bottom padding");
        assertEquals(bottom, g.padRight(), "right padding");
    }

    @Test
    void truncate() {
        // (7 - 3 + 0) / 1 + 1 = 5, no padding.
        assertRows(on(7, 1, 0, 1, ConvolutionMode.Truncate), 5, 0, 0);
        // (7 - 3 + 2) / 2 + 1 = 4; the last tap row: 3 * 2 + 2 - 1 = 7, one row below the input.
        assertRows(on(7, 2, 1, 1, ConvolutionMode.Truncate), 4, 1, 1);
        // (8 - 3) / 2 + 1 = 3: the last row (7) is never read, so the far-end "padding" is -1.
        assertRows(on(8, 2, 0, 1, ConvolutionMode.Truncate), 3, 0, -1);
    }

    @Test
    void sameModeIgnoresTheConfiguredPaddingAndPadsTheFarEndMore() {
        // ceil(7 / 1) = 7: (6 + 3 - 7) / 2 = 1 on each side, whatever padding is passed (as DL4J may pass it to a
        // convolution helper).
        assertRows(on(7, 1, 0, 1, ConvolutionMode.Same), 7, 1, 1);
        int[] ones = {1, 1};
        assertRows(ConvGeometry.of(new int[] {3, 3}, ones, new int[] {5, 5}, ones, ConvolutionMode.Same,
                CNN2DFormat.NCHW, Nd4j.zeros(DataType.FLOAT, 2, 3, 7, 7)), 7, 1, 1);
        // ceil(7 / 2) = 4: (3 * 2 + 3 - 7) = 2 rows of padding, 1 + 1.
        assertRows(on(7, 2, 0, 1, ConvolutionMode.Same), 4, 1, 1);
        // ceil(8 / 2) = 4: (3 * 2 + 3 - 8) = 1 row of padding, all at the bottom.
        ConvGeometry g = on(8, 2, 0, 1, ConvolutionMode.Same);
        assertRows(g, 4, 0, 1);
        assertEquals(0, g.inputY(0, 0));
        assertEquals(8, g.inputY(3, 2), "the last tap of the last row reads the bottom padding");
    }

    @Test
    void dilationTwo() {
        // Effective kernel 3 + 2 * 1 = 5: (7 - 5) / 1 + 1 = 3.
        ConvGeometry t = on(7, 1, 0, 2, ConvolutionMode.Truncate);
        assertRows(t, 3, 0, 0);
        assertEquals(1 + 2 * 2, t.inputX(1, 2), "taps 2 apart");
        // Same: 7 outputs, (6 + 5 - 7) / 2 = 2 on each side.
        assertRows(on(7, 1, 0, 2, ConvolutionMode.Same), 7, 2, 2);
        // Dilation 2 and stride 2, Same on 9: ceil(9 / 2) = 5, (4 * 2 + 5 - 9) = 4 = 2 + 2.
        assertRows(on(9, 2, 0, 2, ConvolutionMode.Same), 5, 2, 2);
    }

    @Test
    void shapeAndIndexInBothFormats() {
        ConvGeometry nchw = on(7, 1, 1, 1, ConvolutionMode.Truncate);
        assertFalse(nchw.nhwc());
        assertEquals(2, nchw.batch());
        assertEquals(3, nchw.channels());
        assertEquals(49, nchw.inPositions());
        assertEquals(49, nchw.outPositions());
        assertEquals(((1 * 3 + 2) * 7 + 4) * 7 + 5, nchw.index(1, 2, 4, 5));

        ConvolutionLayer f = conv(3, 2, 0, 1, ConvolutionMode.Same, CNN2DFormat.NHWC);
        ConvGeometry nhwc = ConvGeometry.of(f, Nd4j.zeros(DataType.FLOAT, 2, 8, 6, 3));
        assertTrue(nhwc.nhwc());
        assertEquals(3, nhwc.channels());
        assertEquals(8, nhwc.height());
        assertEquals(6, nhwc.width());
        assertEquals(4, nhwc.outH());
        assertEquals(3, nhwc.outW());
        assertEquals(((1 * 8 + 4) * 6 + 5) * 3 + 2, nhwc.index(1, 2, 4, 5));
        assertEquals(nhwc, ConvGeometry.of(f, new long[] {2, 8, 6, 3}), "from the shape alone");
    }

    @Test
    void strictModeRejectsAStrideThatDoesNotDivide() {
        assertThrows(DL4JInvalidConfigException.class, () -> on(8, 2, 0, 1, ConvolutionMode.Strict));
        assertRows(on(7, 2, 0, 1, ConvolutionMode.Strict), 3, 0, 0);
    }
}

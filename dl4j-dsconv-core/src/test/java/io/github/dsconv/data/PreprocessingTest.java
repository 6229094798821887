package io.github.dsconv.data;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link Preprocessing}: the scale parser, the per-channel arithmetic and the validation. */
class PreprocessingTest {

    @Test
    void scalesParseAsDecimalsOrFractions() {
        assertArrayEquals(new double[] {1, 255}, Preprocessing.parseScale("1/255"));
        assertArrayEquals(new double[] {1, 1}, Preprocessing.parseScale("1"));
        assertArrayEquals(new double[] {0.5, 1}, Preprocessing.parseScale(" 0.5 "));
        assertArrayEquals(new double[] {2, 255}, Preprocessing.parseScale("2 / 255"));
        for (String bad : new String[] {"", "0", "-1", "1/0", "abc", "1/2/3", "NaN", "Infinity", "1e400"}) {
            assertThrows(IllegalArgumentException.class, () -> Preprocessing.parseScale(bad), bad);
        }
    }

    @Test
    void theDefaultScaleIsBitIdenticalToDividingBy255() {
        float[] px = new float[256];
        for (int i = 0; i < 256; i++) {
            px[i] = i;
        }
        Preprocessing.defaults().apply(px, 0, 1, 256);
        for (int i = 0; i < 256; i++) {
            assertEquals(i / 255f, px[i], 0f);
        }
    }

    @Test
    void meanAndStdArePerChannelAfterScaling() {
        // Two channels of two pixels: (p * 0.5 - mean) / std.
        float[] px = {10, 20, 100, 200};
        Preprocessing.defaults().withScale("0.5").withMean(1f, 2f).withStd(2f, 4f).apply(px, 0, 2, 2);
        assertArrayEquals(new float[] {2f, 4.5f, 12f, 24.5f}, px, 1e-6f);
    }

    @Test
    void badMeanStdAndChannelCountsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.defaults().withStd(0f));
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.defaults().withStd(-1f));
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.defaults().withMean(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.parseList("--mean", "0.1,x"));
        assertThrows(IllegalArgumentException.class,
                () -> Preprocessing.defaults().withMean(1f, 2f).requireChannels(3));
        Preprocessing.defaults().withMean(1f).requireChannels(3);
    }
}

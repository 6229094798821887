package io.github.dsconv.quant;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Block counts and block ends never overflow: a block of {@link Integer#MAX_VALUE} channels is one block of all the
 * channels, exactly like a block of the channel count ({@code (nIn + block - 1) / block} used to overflow to 0).
 */
class HugeBlockTest {

    @Test
    void blockLayoutCountsOneBlock() {
        BlockLayout l = new BlockLayout(16, Integer.MAX_VALUE);
        assertEquals(1, l.nBlocks());
        assertEquals(0, l.start(0));
        assertEquals(16, l.end(0));
        assertEquals(0, l.blockOf(15));
        BlockLayout big = new BlockLayout(Integer.MAX_VALUE, Integer.MAX_VALUE - 1);
        assertEquals(2, big.nBlocks());
        assertEquals(Integer.MAX_VALUE, big.end(1));
        assertEquals(3, new BlockLayout(33, 16).nBlocks());
        assertEquals(33, new BlockLayout(33, 16).end(2));
        assertEquals(1, new BlockLayout(1, 1).nBlocks());
    }

    private static float[] kernel(KernelShape s, long seed) {
        Random r = new Random(seed);
        float[] w = new float[s.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        return w;
    }

    @Test
    void quantizersTreatAHugeBlockAsTheChannelCount() {
        KernelShape s = new KernelShape(5, 16, 3, 3);
        float[] w = kernel(s, 3);
        QuantizedKernel ref = new VqkQuantizer(true, true).quantize(w, s, 4, 16);
        QuantizedKernel huge = new VqkQuantizer(true, true).quantize(w, s, 4, Integer.MAX_VALUE);
        assertArrayEquals(ref.q(), huge.q());
        assertArrayEquals(ref.alpha(), huge.alpha());
        assertArrayEquals(ref.beta(), huge.beta());
        assertArrayEquals(ref.reconstruct(), huge.reconstruct());

        QuantizedKernel rtn = new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL)
                .quantize(w, s, 4, Integer.MAX_VALUE);
        assertEquals(s.numel(), rtn.q().length);

        int k = 16 * 9;
        double[] h = new double[k * k];
        for (int i = 0; i < k; i++) {
            h[i * k + i] = 1 + i % 3;
        }
        QuantizedKernel hRef = new HessianRoundingSolver(false, false).quantize(w, s, 4, 16, h, ScalePrecision.FP16);
        QuantizedKernel hHuge = new HessianRoundingSolver(false, false).quantize(w, s, 4, Integer.MAX_VALUE, h,
                ScalePrecision.FP16);
        assertArrayEquals(hRef.q(), hHuge.q());
        assertArrayEquals(hRef.alpha(), hHuge.alpha());
    }

    @Test
    void blockFloatingPointTreatsAHugeBlockAsTheChannelCount() {
        for (boolean channelsLast : new boolean[] {false, true}) {
            double[] x = new double[2 * 16 * 5];
            Random r = new Random(9);
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextGaussian();
            }
            double[] ref = x.clone();
            BlockFloatingPoint.quantizeInPlace(ref, 2, 16, 5, channelsLast, 16, 8, true);
            double[] huge = x.clone();
            BlockFloatingPoint.quantizeInPlace(huge, 2, 16, 5, channelsLast, Integer.MAX_VALUE, 8, true);
            assertArrayEquals(ref, huge, 0.0);
        }
    }
}

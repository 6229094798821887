package io.github.dsconv.quant;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The round-to-nearest baselines against hand-computed kernels: {@code scale = max|w| / (2^(b-1)-1)},
 * {@code q = clamp(rint(w / scale), -(2^(b-1)-1), 2^(b-1)-1)}. Scales are powers of two so the divisions are exact.
 */
class RoundToNearestQuantizerTest {

    // Shape [nOut=2, nIn=3, kH=1, kW=2]; flat index (o*3 + c)*2 + x.
    private static final KernelShape SHAPE = new KernelShape(2, 3, 1, 2);
    private static final float[] W = {
        1.75f, -0.5f, 0.125f, 0.3f, -1.75f, 0.375f, // o0, max |w| = 1.75
        0.25f, -3.5f, 0.75f, 1.0f, 0f, -0.1f,       // o1, max |w| = 3.5
    };

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    @Test
    void perChannelUsesEachOutputChannelsOwnMaximum() {
        // b = 4: qmax = 7. o0: scale = 1.75/7 = 0.25; o1: scale = 3.5/7 = 0.5.
        // o0 / 0.25 = {7, -2, 0.5 -> 0, 1.2 -> 1, -7, 1.5 -> 2}      (rint: half to even)
        // o1 / 0.5  = {0.5 -> 0, -7, 1.5 -> 2, 2, 0, -0.2 -> 0}
        QuantizedKernel k = new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL)
                .quantize(W, SHAPE, 4, 2);
        assertArrayEquals(bytes(7, -2, 0, 1, -7, 2, 0, -7, 2, 2, 0, 0), k.q());
        // DSConv layout for B = 2: nBlocks = ceil(3/2) = 2, alpha [2, 2, 1, 2]: the scale replicated 4 times a channel.
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f, 0.25f, 0.5f, 0.5f, 0.5f, 0.5f}, k.alpha(), 0f);
        assertNull(k.beta());
        assertEquals(2, k.storedScales());
        assertEquals(2, k.blockSize());
        // Storage: q = ceil(12 * 4 / 8) = 6 bytes, plus 2 scales: fp16 6 + 4 = 10, fp32 6 + 8 = 14.
        assertEquals(10, k.storageBytes(ScalePrecision.FP16));
        assertEquals(14, k.storageBytes(ScalePrecision.FP32));
        assertEquals("rtn-per-channel", new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL)
                .method());
    }

    @Test
    void perTensorUsesOneScaleForTheWholeKernel() {
        // b = 4: scale = 3.5/7 = 0.5 for everything.
        // o0 / 0.5 = {3.5 -> 4, -1, 0.25 -> 0, 0.6 -> 1, -3.5 -> -4, 0.75 -> 1}
        // o1 / 0.5 = {0.5 -> 0, -7, 1.5 -> 2, 2, 0, -0.2 -> 0}
        RoundToNearestQuantizer rtn = new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_TENSOR);
        QuantizedKernel k = rtn.quantize(W, SHAPE, 4, 32);
        assertArrayEquals(bytes(4, -1, 0, 1, -4, 1, 0, -7, 2, 2, 0, 0), k.q());
        // B = 32 > nIn: one block, alpha [2, 1, 1, 2].
        float[] alpha = new float[4];
        Arrays.fill(alpha, 0.5f);
        assertArrayEquals(alpha, k.alpha(), 0f);
        assertEquals(1, k.storedScales());
        // q = 6 bytes plus one scale: fp16 8, fp32 10.
        assertEquals(8, k.storageBytes(ScalePrecision.FP16));
        assertEquals(10, k.storageBytes(ScalePrecision.FP32));
        assertEquals("rtn-per-tensor", rtn.method());
        assertFalse(rtn.blockwise());
    }

    @Test
    void rangeIsSymmetricSoTheExtraNegativeCodeIsNeverUsed() {
        // Unlike VQK, the most negative weight maps to -(2^(b-1)-1), not -2^(b-1).
        Random rnd = new Random(1);
        KernelShape shape = new KernelShape(6, 9, 3, 3);
        float[] w = new float[shape.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        for (RoundToNearestQuantizer.Granularity g : RoundToNearestQuantizer.Granularity.values()) {
            for (int bits = 2; bits <= 8; bits++) {
                QuantizedKernel k = new RoundToNearestQuantizer(g).quantize(w, shape, bits, 4);
                int qmax = (1 << (bits - 1)) - 1;
                int min = Integer.MAX_VALUE;
                int max = Integer.MIN_VALUE;
                for (byte q : k.q()) {
                    min = Math.min(min, q);
                    max = Math.max(max, q);
                }
                assertTrue(min >= -qmax && max <= qmax, g + " bits " + bits + ": q in [" + min + "," + max + "]");
                // The largest |w| of the tensor lands exactly on +-qmax.
                assertEquals(qmax, Math.max(-min, max), g + " bits " + bits);
            }
        }
    }

    @Test
    void allZeroOutputChannelGetsZeroScaleAndCodes() {
        // o0 is all zero (scale 0, no division by zero); o1 = {1, -1, 0.5, ...}: max 1, b = 2 -> qmax 1, scale 1.
        KernelShape shape = new KernelShape(2, 2, 1, 1);
        QuantizedKernel k = new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL)
                .quantize(new float[] {0f, 0f, 1f, -1f}, shape, 2, 1);
        assertArrayEquals(bytes(0, 0, 1, -1), k.q());
        assertArrayEquals(new float[] {0f, 0f, 1f, 1f}, k.alpha(), 0f);
        assertArrayEquals(new float[] {0f, 0f, 1f, -1f}, k.reconstruct(), 0f);
    }

    @Test
    void reconstructionErrorIsAtMostHalfAStep() {
        KernelShape shape = new KernelShape(4, 5, 3, 3);
        Random rnd = new Random(2);
        float[] w = new float[shape.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        QuantizedKernel k = new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL)
                .quantize(w, shape, 4, 3);
        float[] rec = k.reconstruct();
        int perOut = 5 * 9;
        int perOutScales = 2 * 9; // ceil(5/3) blocks x 9 positions
        for (int i = 0; i < w.length; i++) {
            float scale = k.alpha()[(i / perOut) * perOutScales];
            // Half a step plus float32 rounding of w/scale and alpha*q (relative 1e-6).
            assertTrue(Math.abs(w[i] - rec[i]) <= scale / 2 * (1 + 1e-6), "index " + i);
        }
    }

    @Test
    void rejectsBadBitsAndNonFiniteWeights() {
        RoundToNearestQuantizer rtn = new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL);
        assertThrows(IllegalArgumentException.class, () -> rtn.quantize(W, SHAPE, 1, 2));
        assertThrows(IllegalArgumentException.class, () -> rtn.quantize(W, SHAPE, 9, 2));
        float[] bad = W.clone();
        bad[SHAPE.index(1, 1, 0, 1)] = Float.POSITIVE_INFINITY;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rtn.quantize(bad, SHAPE, 4, 2));
        assertTrue(e.getMessage().contains("[1,1,0,1]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> rtn.quantize(Arrays.copyOf(W, 11), SHAPE, 4, 2));
    }
}

package io.github.dsconv.distill;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastSubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;

/**
 * Runtime of {@link FrozenStatsBatchNormalization}: DL4J's batch norm forced to test mode, with the test-mode
 * backward pass.
 */
final class FrozenStatsBatchNormRuntime extends BatchNormalization {

    FrozenStatsBatchNormRuntime(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        return super.activate(false, workspaceMgr);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        org.deeplearning4j.nn.conf.layers.BatchNormalization lc = layerConf();
        INDArray x = input.castTo(dataType);
        INDArray eps = epsilon.castTo(dataType);
        int chIdx;
        int[] nonCh;
        if (x.rank() == 2) {
            chIdx = 1;
            nonCh = new int[] {0};
        } else if (x.rank() == 4) {
            boolean nchw = lc.getCnn2DFormat() != CNN2DFormat.NHWC;
            chIdx = nchw ? 1 : 3;
            nonCh = nchw ? new int[] {0, 2, 3} : new int[] {0, 1, 2};
        } else {
            throw new IllegalStateException("FrozenStatsBatchNormalization '" + lc.getLayerName()
                    + "': input of rank " + x.rank() + " " + Arrays.toString(x.shape()) + " is not supported");
        }
        long c = x.size(chIdx);
        INDArray mean = getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN).reshape(c);
        INDArray var;
        if (lc.isUseLogStd()) {
            INDArray std = Transforms.pow(Nd4j.valueArrayOf(new long[] {c}, 10.0, dataType),
                    getParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD).reshape(c), false);
            var = std.muli(std);
        } else {
            var = getParam(BatchNormalizationParamInitializer.GLOBAL_VAR).reshape(c).dup();
        }
        INDArray invStd = Transforms.sqrt(var.addi(lc.getEps()), false).rdivi(1.0);
        INDArray gamma = lc.isLockGammaBeta() ? Nd4j.valueArrayOf(new long[] {c}, lc.getGamma(), dataType)
                : getParam(BatchNormalizationParamInitializer.GAMMA).reshape(c);

        Gradient g = new DefaultGradient();
        if (!lc.isLockGammaBeta()) {
            INDArray xHat = Nd4j.createUninitialized(dataType, x.shape(), 'c');
            Nd4j.getExecutioner().exec(new BroadcastSubOp(x, mean, xHat, chIdx));
            Nd4j.getExecutioner().exec(new BroadcastMulOp(xHat, invStd, xHat, chIdx));
            INDArray dGamma = gradientViews.get(BatchNormalizationParamInitializer.GAMMA);
            INDArray dBeta = gradientViews.get(BatchNormalizationParamInitializer.BETA);
            dGamma.assign(eps.mul(xHat).sum(nonCh).reshape(dGamma.shape()));
            dBeta.assign(eps.sum(nonCh).reshape(dBeta.shape()));
            g.setGradientFor(BatchNormalizationParamInitializer.GAMMA, dGamma);
            g.setGradientFor(BatchNormalizationParamInitializer.BETA, dBeta);
        }
        // The running statistics are inputs here, not estimates being updated.
        for (String key : new String[] {BatchNormalizationParamInitializer.GLOBAL_MEAN,
            BatchNormalizationParamInitializer.GLOBAL_VAR, BatchNormalizationParamInitializer.GLOBAL_LOG_STD}) {
            INDArray view = gradientViews.get(key);
            if (view != null) {
                g.setGradientFor(key, view.assign(0));
            }
        }
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, eps.shape(), 'c');
        Nd4j.getExecutioner().exec(new BroadcastMulOp(eps, gamma.mul(invStd), dx, chIdx));
        return new Pair<>(g, dx);
    }
}

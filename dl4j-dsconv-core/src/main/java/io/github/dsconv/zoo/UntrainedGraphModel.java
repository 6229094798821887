package io.github.dsconv.zoo;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.zoo.PretrainedType;
import org.deeplearning4j.zoo.ZooModel;

/**
 * Base of this project's zoo models, for which DL4J publishes no pretrained weights: {@link #init()} builds the
 * graph with random weights, and the pretrained URL and checksum are always absent.
 */
// InstantiableModel declares <M extends Model> M init(); narrowing it to ComputationGraph (as DL4J's own zoo models
// do) is an unchecked override, which javac reports on the class.
@SuppressWarnings("unchecked")
public abstract class UntrainedGraphModel extends ZooModel<ComputationGraph> {

    /** The model's graph configuration builder. */
    public abstract ComputationGraphConfiguration.GraphBuilder graphBuilder();

    /** Builds and initialises the graph with random weights. */
    @Override
    public ComputationGraph init() {
        ComputationGraph net = new ComputationGraph(graphBuilder().build());
        net.init();
        return net;
    }

    /** Always null: DL4J has no pretrained weights for this model. */
    @Override
    public String pretrainedUrl(PretrainedType pretrainedType) {
        return null;
    }

    /** Always 0: there are no pretrained weights to check. */
    @Override
    public long pretrainedChecksum(PretrainedType pretrainedType) {
        return 0L;
    }

    /** {@link ComputationGraph}. */
    @Override
    public Class<? extends Model> modelType() {
        return ComputationGraph.class;
    }
}

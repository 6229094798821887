package io.github.dsconv.cli;

import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.InMemoryIterator;
import org.nd4j.linalg.dataset.DataSet;

import java.io.IOException;

/** The labelled evaluation data of the commands: the Fashion-MNIST test split, optionally limited. */
final class TestData {

    private TestData() {
    }

    static InMemoryIterator fashionMnistTest(int limit, int batch) throws IOException {
        if (limit < 0) {
            throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
        }
        DataSet test = FashionMnist.load(FashionMnist.Split.TEST, limit);
        return new InMemoryIterator(test, batch);
    }
}

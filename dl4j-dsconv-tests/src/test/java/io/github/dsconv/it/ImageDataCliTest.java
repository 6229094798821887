package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.io.ModelFiles;
import org.deeplearning4j.nn.api.Model;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static io.github.dsconv.it.CliTest.assertFailed;
import static io.github.dsconv.it.CliTest.cli;
import static io.github.dsconv.it.CliTest.ok;
import static io.github.dsconv.it.CliTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * A user's image folder through {@code evaluate} and {@code quantize --calibration-data}, on the committed
 * Fashion-MNIST VGG and folders written from Fashion-MNIST images; and every bad folder the issue lists.
 */
class ImageDataCliTest {

    private static final int IMAGES = 60;

    @TempDir
    static Path shared;

    /** The first {@link #IMAGES} Fashion-MNIST test images as PNGs, one subfolder per class named 0..9. */
    static Path folder;
    /** The same images inverted (255 - p), unlabelled: plausible but different calibration data. */
    static Path inverted;
    static Path vgg;

    @BeforeAll
    static void writeFolders() throws IOException {
        vgg = java.nio.file.Paths.get("..", "models", "fmnist-vgg.zip");
        DataSet d = FashionMnist.load(FashionMnist.Split.TEST, IMAGES);
        folder = shared.resolve("fmnist-png");
        inverted = shared.resolve("inverted");
        for (int i = 0; i < IMAGES; i++) {
            int label = d.getLabels().getRow(i).argMax().getInt(0);
            BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            BufferedImage inv = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    int p = Math.round(d.getFeatures().getFloat(i, 0, y, x) * 255);
                    img.getRaster().setSample(x, y, 0, p);
                    inv.getRaster().setSample(x, y, 0, 255 - p);
                }
            }
            Path f = folder.resolve(Integer.toString(label)).resolve(i + ".png");
            Files.createDirectories(f.getParent());
            ImageIO.write(img, "png", f.toFile());
            Files.createDirectories(inverted);
            ImageIO.write(inv, "png", inverted.resolve(i + ".png").toFile());
        }
        for (int c = 0; c < 10; c++) {
            Files.createDirectories(folder.resolve(Integer.toString(c)));
        }
    }

    @TempDir
    Path tmp;

    /** The same images from the folder and from the IDX files give exactly the same top-1. */
    @Test
    void aFolderOfTheSameImagesScoresLikeTheBuiltInData() throws IOException {
        ok("evaluate", "--model", vgg, "--data", folder, "--json", tmp.resolve("folder.json"));
        ok("evaluate", "--model", vgg, "--limit", IMAGES, "--json", tmp.resolve("idx.json"));
        JsonNode f = readJson(tmp.resolve("folder.json"));
        JsonNode i = readJson(tmp.resolve("idx.json"));
        assertEquals(IMAGES, f.get("images").asInt());
        assertEquals(i.get("top1").asDouble(), f.get("top1").asDouble(), 1e-12);
        assertEquals("28x28x1 NCHW", f.get("input").asText());
    }

    /** Calibration images from a folder are really used: other images give other kernels. */
    @Test
    void calibrationOnAUserFolderChangesTheResult() throws IOException {
        Path a = tmp.resolve("a.zip");
        Path b = tmp.resolve("b.zip");
        ok("quantize", "--in", vgg, "--out", a, "--calibration-data", "fashion-mnist", "--calibration-images", 40);
        ok("quantize", "--in", vgg, "--out", b, "--calibration-data", inverted, "--calibration-images", 40,
                "--json", tmp.resolve("b.json"));
        Model ma = ModelFiles.load(a);
        Model mb = ModelFiles.load(b);
        assertNotEquals(ma.params(), mb.params());
        assertEquals("hessian-rounding(40) + bias-correction(40)", readJson(tmp.resolve("b.json")).get("recipe")
                .asText());
    }

    @Test
    void badFoldersGiveOneLineNamingThem() throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        Path three = tmp.resolve("three");
        for (String c : new String[] {"a", "b", "c"}) {
            Files.createDirectories(three.resolve(c));
            Files.copy(Files.list(folder.resolve("0")).findFirst().orElseThrow(), three.resolve(c).resolve("x.png"));
        }
        assertFailed(cli("evaluate", "--model", vgg, "--data", three, "--json", out.resolve("e.json")), out,
                "3 classes", "10 outputs");

        Path empty = Files.createDirectories(tmp.resolve("empty").resolve("cls"));
        assertFailed(cli("evaluate", "--model", vgg, "--data", empty.getParent(), "--json", out.resolve("e.json")),
                out, "empty", "no images");
        assertFailed(cli("quantize", "--in", vgg, "--out", out.resolve("q.zip"), "--calibration-data",
                empty.getParent()), out, "no images");

        Path colour = tmp.resolve("colour");
        Files.createDirectories(colour);
        BufferedImage rgb = new BufferedImage(28, 28, BufferedImage.TYPE_INT_RGB);
        ImageIO.write(rgb, "png", colour.resolve("c.png").toFile());
        assertFailed(cli("quantize", "--in", vgg, "--out", out.resolve("q.zip"), "--calibration-data", colour,
                "--calibration-images", 1), out, "c.png", "takes 1 channel");

        Path corrupt = tmp.resolve("corrupt");
        Files.createDirectories(corrupt);
        Files.write(corrupt.resolve("broken.jpg"), new byte[] {(byte) 0xff, (byte) 0xd8, 1, 2, 3});
        assertFailed(cli("quantize", "--in", vgg, "--out", out.resolve("q.zip"), "--calibration-data", corrupt,
                "--calibration-images", 1), out, "broken.jpg");

        assertFailed(cli("evaluate", "--model", vgg, "--data", tmp.resolve("missing"), "--json",
                out.resolve("e.json")), out, "missing", "does not exist");
        assertFailed(cli("evaluate", "--model", vgg, "--data", inverted, "--json", out.resolve("e.json")), out,
                "labelled");
        assertFailed(cli("evaluate", "--model", vgg, "--scale", "0", "--json", out.resolve("e.json")), out,
                "--scale");
        assertFailed(cli("evaluate", "--model", vgg, "--mean", "0.1,0.2", "--json", out.resolve("e.json")), out,
                "--mean", "2 values");
        assertFailed(cli("quantize", "--in", vgg, "--out", out.resolve("q.zip"), "--calibration-data", folder,
                "--calibration-images", 100000), out, "100000");
    }
}

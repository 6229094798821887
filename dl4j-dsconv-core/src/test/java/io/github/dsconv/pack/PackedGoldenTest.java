package io.github.dsconv.pack;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Pins the bytes of the packed format: for two fixed small models, the SHA-256 of every zip entry's content, in
 * entry order, must stay what format version 1 has always written. Only the manifest's {@code created} time is
 * blanked (and the manifest checksum entry, which covers it, is compared by name only). A change here is a
 * format change: it needs a new {@link PackedModelFormat#FORMAT_VERSION}, not new expected values.
 */
class PackedGoldenTest {

    @TempDir
    Path tmp;

    @Test
    void graphWithKdsBiasAndCdsInFp16WritesTheSameBytes() throws IOException {
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(3, 8, 16)).withMethod(true, true, false);
        Model net = new DSConvConverter(plan).convert(TinyNets.residualGraph(13, CNN2DFormat.NCHW)).network();
        Path f = tmp.resolve("g.dsconv.zip");
        PackedModelFormat.write(net, f, PackedModelFormat.Options.defaults().withPlan(plan).withSource("g.zip"));
        assertEquals(List.of(
                "dsconv.format 2299edf57e412212861b683aa848af6e8a590494c23896a220eb55988e7121a3",
                "network.json 4709b10a046ebb822296aed8e9b91beeee11349bdee41f5d8dff5d71d74cb4b1",
                "params/0000 4190671669f8f67c5b3ee6d5f42fbc8be73c764d69af86559a2b7ec8c4e7003a",
                "params/0001 afaec58f4d40c124288fd9c9daa1ee0fe221bd64163af52c7b059b4273125618",
                "params/0002 3341cb5e40c0f935a7568336a3980f51b3f3f782a777495df0737af9bf1927a4",
                "params/0003 3da4732691885ce6ba7dfeccf1a2cf7c3aba92b34f5176e8d12fd97692bb8bb4",
                "params/0004 b707241545a346265aab1ffb32ff64b55bf8f8dc1b56a46ef33ce3d15db11d33",
                "params/0005 a424f6a485ae02285e33b6593bd8be7bdab0f30bf0878b6666012e4b0e63341e",
                "params/0006 1751ac12e70e15b4f76c16775cd329ae55973b612521dab2de828a5cdb6c8ab3",
                "params/0007 1751ac12e70e15b4f76c16775cd329ae55973b612521dab2de828a5cdb6c8ab3",
                "params/0008 1751ac12e70e15b4f76c16775cd329ae55973b612521dab2de828a5cdb6c8ab3",
                "params/0009 c4e6ebd993704f9db594f93398786b9ed4cc4a3267d77da89750990bf816c8da",
                "params/0010 7804be4d4480f30eac794e7c32e8f3b9ba5e1ccb9e4dccc3095a333a2d7688d7",
                "params/0011 601ed5de8acbb05ef151652c7cff8198aca968cda87dd716016aace0c1dccff4",
                "params/0012 a424f6a485ae02285e33b6593bd8be7bdab0f30bf0878b6666012e4b0e63341e",
                "params/0013 1751ac12e70e15b4f76c16775cd329ae55973b612521dab2de828a5cdb6c8ab3",
                "params/0014 1751ac12e70e15b4f76c16775cd329ae55973b612521dab2de828a5cdb6c8ab3",
                "params/0015 56d48540efd1ea5d2df8111673757802f3b58a12fd426be0b78f32686f55397a",
                "params/0016 38e0ebc29d7074937e3d03982b670b51d821e19277427a0b1d137cc3321b90bb",
                "params/0017 c9bccd8bef69a26dbb963d8f02189b202f28f7b5af16f70f6fd7340111249328",
                "params/0018 a424f6a485ae02285e33b6593bd8be7bdab0f30bf0878b6666012e4b0e63341e",
                "params/0019 1751ac12e70e15b4f76c16775cd329ae55973b612521dab2de828a5cdb6c8ab3",
                "params/0020 1751ac12e70e15b4f76c16775cd329ae55973b612521dab2de828a5cdb6c8ab3",
                "params/0021 51c268e9fa6a9ccf40238d87d0c753530d6f33e63685880865ca87af3161e667",
                "params/0022 419db98ce070b22488beaa05ace16f75ba3e128342b93755352d5849a7cb7782",
                "params/0023 ce14c34ecc671a75f82be6c5769c961e9c342b606311cfacfbd57d97fae3f7ee",
                "params/0024 6b915313f9a35aa1187c128f7a0b39416b7dde4a3c97d63fa1b1715a6630bd95",
                "params/0025 2ea9ab9198d1638007400cd2c3bef1cc745b864b76011a0e1bc52180ac6452d4",
                "params/0026 2ea9ab9198d1638007400cd2c3bef1cc745b864b76011a0e1bc52180ac6452d4",
                "params/0027 266bf03e378ab1682ad9ffcf2cdfde0c5c65a31746fb4c2fb240cd7caf932b54",
                "params/0028 36373826294331f81124d1ffde7546a5eadf73d41267be6fc55f8b33ff6750de",
                "params/0029 8a1fe3604bc282f34e6370e139cb068c2131a5831764b9e0eaa37a5ac1c3feb8",
                "params/0030 6b915313f9a35aa1187c128f7a0b39416b7dde4a3c97d63fa1b1715a6630bd95",
                "params/0031 2ea9ab9198d1638007400cd2c3bef1cc745b864b76011a0e1bc52180ac6452d4",
                "params/0032 2ea9ab9198d1638007400cd2c3bef1cc745b864b76011a0e1bc52180ac6452d4",
                "params/0033 25c962cfbe0f8d10e4155b6bdb026c842dafc087a57589b068a24a435c5599df",
                "params/0034 af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc",
                "dsconv.manifest.json bc3163feb780f9237fc66705cae8f7b02e942dd4139839d096f74a93bb4dbc81",
                "dsconv.manifest.sha256"), entryDigests(f));
    }

    @Test
    void multiLayerNetworkWithAnUnconvertedFirstConvInFp32WritesTheSameBytes() throws IOException {
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(5, 8, 32)).withSkipFirst(true);
        Model net = new DSConvConverter(plan).convert(TinyNets.mln(11, CNN2DFormat.NCHW)).network();
        // one value beyond the fp16 range: stored in fp32 even with fp16 params
        net.params().putScalar(net.numParams() - 1, 1e6f);
        Path f = tmp.resolve("m.dsconv.zip");
        PackedModelFormat.write(net, f, PackedModelFormat.Options.defaults().withPlan(plan));
        Path f32 = tmp.resolve("m32.dsconv.zip");
        PackedModelFormat.write(net, f32, PackedModelFormat.Options.defaults()
                .withParamsPrecision(ScalePrecision.FP32).withSource("m.zip"));
        List<String> both = new ArrayList<>(entryDigests(f));
        both.addAll(entryDigests(f32));
        assertEquals(List.of(
                "dsconv.format 2299edf57e412212861b683aa848af6e8a590494c23896a220eb55988e7121a3",
                "network.json 49ca0eaf35dd5e83083f81c9a1f38c7f5fdf7e80de093e0cc5180911080ad10d",
                "params/0000 78964ad83947d7dc113ca2b8dd6e9c13d21092fd3a40322bd77d4994db201a85",
                "params/0001 c284997513c64eb9d77eb0e4849a52bf11aa32aa8ddb5742cbe2c200e7cfe706",
                "params/0002 5b6fb58e61fa475939767d68a446f97f1bff02c0e5935a3ea8bb51e6515783d8",
                "params/0003 5b6fb58e61fa475939767d68a446f97f1bff02c0e5935a3ea8bb51e6515783d8",
                "params/0004 5b6fb58e61fa475939767d68a446f97f1bff02c0e5935a3ea8bb51e6515783d8",
                "params/0005 ba5cafb73614396841a2a061875e9e4a0cdef52f6d9e4f78d7d4cf7360e262dd",
                "params/0006 cf1a4cf2eba0a7b10456a440df596d6e63182518e7e218ac1767b58fc9c6ea0e",
                "params/0007 834a709ba2534ebe3ee1397fd4f7bd288b2acc1d20a08d6c862dcd99b6f04400",
                "params/0008 ad932d4fca10330907f9e31b6239d1030d99bdf13397500595bd71c871f0b1bf",
                "params/0009 0fc43f9ae62b34434158251e672fc2c2261115da58b9f666d6c35051bd64a9e8",
                "dsconv.manifest.json 01662593c89be981e4d6cb43afc6cd72d9d72986a47680042939b1bd1df03bf9",
                "dsconv.manifest.sha256",
                "dsconv.format 2299edf57e412212861b683aa848af6e8a590494c23896a220eb55988e7121a3",
                "network.json 49ca0eaf35dd5e83083f81c9a1f38c7f5fdf7e80de093e0cc5180911080ad10d",
                "params/0000 78964ad83947d7dc113ca2b8dd6e9c13d21092fd3a40322bd77d4994db201a85",
                "params/0001 a834ffb02981aa1f080d8686bd1f1f8f571e895ef8a6deef865cf90023a76e19",
                "params/0002 b393978842a0fa3d3e1470196f098f473f9678e72463cb65ec4ab5581856c2e4",
                "params/0003 b393978842a0fa3d3e1470196f098f473f9678e72463cb65ec4ab5581856c2e4",
                "params/0004 b393978842a0fa3d3e1470196f098f473f9678e72463cb65ec4ab5581856c2e4",
                "params/0005 ba5cafb73614396841a2a061875e9e4a0cdef52f6d9e4f78d7d4cf7360e262dd",
                "params/0006 cf1a4cf2eba0a7b10456a440df596d6e63182518e7e218ac1767b58fc9c6ea0e",
                "params/0007 81c611f35bff79491538b2f7cf201c7597a661a5c549633541c62bdc8af1613f",
                "params/0008 2dab272d924a71edce8cd887eb2a0b88ae16d163ed926cae4b4ef595eea94e15",
                "params/0009 0fc43f9ae62b34434158251e672fc2c2261115da58b9f666d6c35051bd64a9e8",
                "dsconv.manifest.json 1989994a84f01e907f2c599fb96ed1aa64cc3ba3de3026d397ea4b74b5db9c48",
                "dsconv.manifest.sha256"), both);
    }

    /** {@code "<entry> <sha256>"} per zip entry in file order; the manifest with its creation time blanked. */
    private static List<String> entryDigests(Path file) throws IOException {
        List<String> out = new ArrayList<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            Enumeration<? extends ZipEntry> en = zip.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                byte[] b;
                try (InputStream in = zip.getInputStream(e)) {
                    b = in.readAllBytes();
                }
                if (e.getName().equals("dsconv.manifest.sha256")) {
                    out.add(e.getName());
                    continue;
                }
                if (e.getName().equals("dsconv.manifest.json")) {
                    String m = new String(b, StandardCharsets.UTF_8)
                            .replaceFirst("\"created\" : \"[^\"]*\"", "\"created\" : \"\"");
                    b = m.getBytes(StandardCharsets.UTF_8);
                }
                out.add(e.getName() + " " + sha256(b));
            }
        }
        return out;
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

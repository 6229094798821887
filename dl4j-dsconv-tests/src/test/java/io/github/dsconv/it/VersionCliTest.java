package io.github.dsconv.it;

import io.github.dsconv.cli.DsconvCli;
import io.github.dsconv.provenance.Version;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@code dsconv --version} prints the version the build filled in, the one provenance records. */
class VersionCliTest {

    @Test
    void versionComesFromTheBuild() {
        StringWriter out = new StringWriter();
        CommandLine cl = DsconvCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        assertEquals(0, cl.execute("--version"));
        assertEquals("dl4j-dsconv " + Version.release(), out.toString().strip());
        assertEquals(Version.project().replace("-SNAPSHOT", ""), Version.release());
    }
}

package io.quarkvm.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.quarkvm.kvm.StructLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares every constant, struct size and field offset the Unicorn binding assumes with what gcc computes from
 * unicorn/unicorn.h (package libunicorn-dev); the C program is generated from the Java tables.
 */
class UnicornLayoutTest {

    @Test
    void javaNumbersMatchTheUnicornHeaders(@TempDir Path dir) throws Exception {
        assumeTrue(onPath("gcc"), "gcc missing: cannot compile the layout probe against unicorn/unicorn.h");
        assumeTrue(Files.exists(Path.of("/usr/include/unicorn/unicorn.h")),
                "unicorn/unicorn.h missing: apt-get install libunicorn-dev");
        Map<String, Long> expected = new HashMap<>(Unicorn.constants());
        StringBuilder c = new StringBuilder("""
                #include <stdio.h>
                #include <stddef.h>
                #include <unicorn/unicorn.h>
                int main(void) {
                """);
        expected.keySet().forEach(name -> print(c, name, name));
        for (StructLayout layout : List.of(Unicorn.MMR_LAYOUT, Unicorn.MSR_LAYOUT)) {
            print(c, "sizeof " + layout.cType(), "sizeof(" + layout.cType() + ")");
            expected.put("sizeof " + layout.cType(), (long) layout.size());
            layout.offsets().forEach((member, offset) -> {
                String key = "offsetof " + layout.cType() + " " + member;
                print(c, key, "offsetof(" + layout.cType() + ", " + member + ")");
                expected.put(key, (long) offset);
            });
        }
        c.append("    return 0;\n}\n");
        Path source = dir.resolve("unicorn_layout.c");
        Path binary = dir.resolve("unicorn_layout");
        Files.writeString(source, c);
        run(List.of("gcc", "-Wall", "-o", binary.toString(), source.toString()));
        Map<String, Long> actual = new HashMap<>();
        for (String line : run(List.of(binary.toString())).split("\n")) {
            int separator = line.lastIndexOf('=');
            actual.put(line.substring(0, separator), Long.parseLong(line.substring(separator + 1)));
        }
        assertEquals(expected.keySet(), actual.keySet(), "the probe printed something else than asked");
        expected.forEach((key, value) -> assertEquals(actual.get(key), value, key + ": Java differs from the headers"));
        System.out.println("UnicornLayoutTest: " + expected.size() + " constants, sizes and offsets match gcc");
    }

    private static void print(StringBuilder c, String key, String expression) {
        c.append("    printf(\"%s=%lld\\n\", \"").append(key).append("\", (long long) (").append(expression)
                .append("));\n");
    }

    private static boolean onPath(String program) {
        try {
            return new ProcessBuilder(program, "--version").redirectErrorStream(true).start()
                    .waitFor(30, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    private static String run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), String.join(" ", command) + " failed:\n" + output);
        return output;
    }
}

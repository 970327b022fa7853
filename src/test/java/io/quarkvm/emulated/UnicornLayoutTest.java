package io.quarkvm.emulated;

import io.quarkvm.CCompiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.quarkvm.kvm.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares every constant, struct size and field offset the Unicorn binding assumes with what gcc computes from
 * unicorn/unicorn.h (package libunicorn-dev); the C program is generated from the Java tables.
 */
class UnicornLayoutTest {

    @Test
    void javaNumbersMatchTheUnicornHeaders(@TempDir Path dir) throws Exception {
        assumeTrue(CCompiler.onPath("gcc"), "gcc missing: cannot compile the layout probe against unicorn/unicorn.h");
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
        Map<String, Long> actual = new HashMap<>();
        CCompiler.printedValues(dir, "unicorn_layout", c).forEach((key, value) -> actual.put(key, Long.parseLong(value)));
        assertEquals(expected.keySet(), actual.keySet(), "the probe printed something else than asked");
        expected.forEach((key, value) -> assertEquals(actual.get(key), value, key + ": Java differs from the headers"));
        System.out.println("UnicornLayoutTest: " + expected.size() + " constants, sizes and offsets match gcc");
    }

    private static void print(StringBuilder c, String key, String expression) {
        c.append("    printf(\"%s=%lld\\n\", \"").append(key).append("\", (long long) (").append(expression)
                .append("));\n");
    }
}

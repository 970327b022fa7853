package io.quarkvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** gcc and the programs it builds, for the tests that compare Java's view of a C ABI with the C headers'. */
public final class CCompiler {

    private CCompiler() {
    }

    /** Whether {@code program} runs at all (answers {@code --version}). */
    public static boolean onPath(String program) {
        try {
            return new ProcessBuilder(program, "--version").redirectErrorStream(true).start()
                    .waitFor(30, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /**
     * Compiles {@code source} as {@code <dir>/<name>.c} with gcc -Wall, runs it, and returns what it printed as
     * {@code key=value} lines (the key may hold '=': the value is after the last one).
     */
    public static Map<String, String> printedValues(Path dir, String name, CharSequence source)
            throws IOException, InterruptedException {
        Path sourceFile = dir.resolve(name + ".c");
        Path binary = dir.resolve(name);
        Files.writeString(sourceFile, source);
        run(List.of("gcc", "-Wall", "-o", binary.toString(), sourceFile.toString()));
        Map<String, String> printed = new HashMap<>();
        for (String line : run(List.of(binary.toString())).split("\n")) {
            int separator = line.lastIndexOf('=');
            printed.put(line.substring(0, separator), line.substring(separator + 1));
        }
        return printed;
    }

    /** What {@code command} printed (stdout and stderr); fails the test when it exits with another status than 0. */
    public static String run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), String.join(" ", command) + " failed:\n" + output);
        return output;
    }
}

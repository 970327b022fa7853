import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

record ProcessResult(int exitCode, boolean timedOut, String output) {
    /** Runs a command to completion (killed after {@code timeout}); stdout and stderr together. */
    static ProcessResult run(List<String> command, Duration timeout) {
        Path out = null;
        try {
            out = Files.createTempFile("bench-cmd", ".out");
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            boolean done = Bench.waitFor(p, timeout);
            if (!done) {
                p.destroyForcibly();
                Bench.waitFor(p, Duration.ofSeconds(10));
            }
            return new ProcessResult(done ? p.exitValue() : -1, !done, Files.readString(out));
        } catch (IOException e) {
            return new ProcessResult(-1, false, e.toString());
        } finally {
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException ignored) {
                    // a temp file
                }
            }
        }
    }
}

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Small helpers the benches share: statistics, files, processes, waiting. */
final class Bench {

    private Bench() {
    }

    /** {@code count} distinct free localhost ports (all held open together while they are picked). */
    static int[] freePorts(int count) {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            int[] ports = new int[count];
            for (int i = 0; i < count; i++) {
                ServerSocket socket = new ServerSocket(0);
                sockets.add(socket);
                ports[i] = socket.getLocalPort();
            }
            return ports;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            for (ServerSocket socket : sockets) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // only held to keep the port taken
                }
            }
        }
    }

    /**
     * Records a child process in {@code <work dir>/pids/}, so that bench/run's exit trap stops it even if this JVM
     * dies without running its shutdown hooks (it checks that the command line names the work directory first).
     */
    static void recordPid(Path workDir, String name, long pid) {
        try {
            Path dir = workDir.resolve("pids");
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(name + ".pid"), Long.toString(pid));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static boolean waitFor(Process process, Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static Optional<String> which(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir, program);
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate.toString());
            }
        }
        return Optional.empty();
    }

    static double median(List<Double> samples) {
        if (samples.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(samples);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** Nearest-rank 90th percentile. */
    static double p90(List<Double> samples) {
        if (samples.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(samples);
        Collections.sort(sorted);
        return sorted.get((int) Math.ceil(0.9 * sorted.size()) - 1);
    }

    static String formatSamples(List<Double> samples) {
        if (samples.isEmpty()) {
            return "no samples";
        }
        return String.format(Locale.ROOT, "median %.1f, p90 %.1f, min %.1f, max %.1f (n=%d)", median(samples),
                p90(samples), Collections.min(samples), Collections.max(samples), samples.size());
    }

    static String joinSamples(List<Double> samples) {
        StringBuilder out = new StringBuilder();
        for (double s : samples) {
            out.append(String.format(Locale.ROOT, "%.1f ", s));
        }
        return out.toString().strip();
    }

    static List<String> readLines(Path path) {
        try {
            return Files.readAllLines(path, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String firstLine(Path path) {
        try {
            return Files.readAllLines(path).get(0).strip();
        } catch (IOException | IndexOutOfBoundsException e) {
            return "?";
        }
    }

    static String tail(Path path, int lines) {
        try {
            List<String> all = Files.readAllLines(path, StandardCharsets.ISO_8859_1);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchFailure("interrupted");
        }
    }}

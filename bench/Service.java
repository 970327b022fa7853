import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A quarkvm service process, started exactly as README.md says (java -jar target/quarkus-app/quarkus-run.jar), on a
 * free localhost port and a throwaway data directory; stopped with SIGTERM.
 */
final class Service {
    final String name;
    final Process process;
    final Path log;
    final Path dataDir;
    final String base;
    double readySeconds;
    String operatorToken;
    private boolean stopped;

    private Service(String name, Process process, Path log, Path dataDir, String base) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.dataDir = dataDir;
        this.base = base;
    }

    long pid() {
        return process.pid();
    }

    /**
     * Starts {@code java [properties] -jar jar} with its data in {@code <work dir>/<name>/data}, its output in
     * {@code <work dir>/<name>/service.log} and HTTP on {@code httpPort} (a free localhost port), and waits until it
     * is ready.
     *
     * @param environment added to this process's environment, from which QUARKUS_DATASOURCE_JDBC_URL is removed
     *     first: without it in here, the service runs on its own embedded, throwaway database
     * @param operatorToken the token to call it with; null: the one it generated in {@code <dir>/data/operator.token}
     */
    static Service start(Path jar, Path workDir, String name, int httpPort, List<String> properties,
                         Map<String, String> environment, String operatorToken) throws IOException {
        Path dir = workDir.toAbsolutePath().resolve(name);
        Files.createDirectories(dir);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dquarkvm.data-dir=" + dir.resolve("data"), "-Dquarkus.http.port=" + httpPort));
        command.addAll(properties);
        // a crash report goes to the work directory, not into the repository
        command.addAll(List.of("-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log"), "-jar", jar.toAbsolutePath().toString()));
        Path log = dir.resolve("service.log");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().remove("QUARKUS_DATASOURCE_JDBC_URL");
        builder.environment().putAll(environment);
        long t0 = System.nanoTime();
        Service service = new Service(name, builder.start(), log, dir.resolve("data"), "http://localhost:" + httpPort);
        Bench.recordPid(workDir, "service-" + name, service.pid());
        service.awaitReady(Duration.ofSeconds(120));
        service.readySeconds = (System.nanoTime() - t0) / 1e9;
        // the operator token the service generates on its first start (README.md, "Authentication")
        service.operatorToken = operatorToken != null ? operatorToken
                : Files.readString(service.dataDir.resolve("operator.token")).strip();
        return service;
    }

    private void awaitReady(Duration timeout) {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new BenchFailure("the service " + name + " exited before it was ready: " + describeState());
            }
            try {
                HttpResponse<Void> ready = client.send(HttpRequest.newBuilder(URI.create(base + "/q/health/ready"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding());
                if (ready.statusCode() == 200) {
                    return;
                }
            } catch (IOException notListeningYet) {
                // keep polling
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BenchFailure("interrupted");
            }
            Bench.sleep(200);
        }
        throw new BenchFailure("the service " + name + " was not ready within " + timeout + ": " + describeState());
    }

    String describeState() {
        String state = process.isAlive() ? "the service " + name + " (pid " + pid() + ") is still running"
                : "THE SERVICE PROCESS " + name + " IS GONE: exit status " + process.exitValue()
                        + (process.exitValue() > 128 ? " (signal " + (process.exitValue() - 128) + ")" : "");
        return state + "; last lines of " + log + ":\n" + Bench.tail(log, 30);
    }

    /** SIGTERM (Process.destroy), as systemd would; SIGKILL only if it is still there after 60 s. */
    synchronized String stop() {
        if (stopped) {
            return "";
        }
        stopped = true;
        if (!process.isAlive()) {
            return "service " + name + " had already exited with " + process.exitValue();
        }
        process.destroy();
        if (Bench.waitFor(process, Duration.ofSeconds(60))) {
            return "service " + name + " stopped (SIGTERM), exit status " + process.exitValue();
        }
        process.destroyForcibly();
        Bench.waitFor(process, Duration.ofSeconds(10));
        return "service " + name + " did NOT stop within 60 s of SIGTERM; killed";
    }

    void stopQuietly() {
        stop();
    }
}

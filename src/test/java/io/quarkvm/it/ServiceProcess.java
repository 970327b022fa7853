package io.quarkvm.it;

import io.quarkvm.emulated.TestHypervisors;
import io.restassured.RestAssured;
import io.restassured.specification.RequestSpecification;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The packaged service (target/quarkus-app/quarkus-run.jar) as a separate process, started exactly as README.md
 * says, so a test can stop it gracefully or SIGKILL it and start it again on the same data directory. Its callers
 * authenticate as README.md tells an operator: with the token the service generated in its data directory on the
 * embedded database, or, on an external one, with a token of the tokens file every node of the cluster is given.
 */
final class ServiceProcess implements AutoCloseable {

    private static final Random RANDOM = new Random();
    private static final String JDBC_URL = "quarkus.datasource.jdbc.url";
    private static final String TOKENS_FILE = "quarkvm.auth.tokens-file";
    private static final String CLUSTER_SECRET = "quarkvm.auth.cluster-secret";
    /** Not the service's: the clear operator token of a tokens file, kept here and never passed to the service. */
    private static final String OPERATOR_TOKEN = "test.operator-token";
    /** Ports given to services of this JVM, so two not yet started never get the same one. */
    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    private final Path dataDir;
    private final int httpPort;
    private final int databasePort;
    private final Map<String, String> extraProperties;
    /** The operator token of a node on an external database; on the embedded one it is in the data directory. */
    private final String configuredOperatorToken;
    private Process process;
    private Path log;

    ServiceProcess(Path dataDir, Map<String, String> extraProperties) {
        this.dataDir = dataDir;
        this.httpPort = freePort();
        this.databasePort = freePort();
        if (extraProperties.containsKey(JDBC_URL) && !extraProperties.containsKey(TOKENS_FILE)) {
            ClusterCredentials cluster = ClusterCredentials.generate(dataDir.getParent());
            this.extraProperties = new HashMap<>(extraProperties);
            this.extraProperties.putAll(cluster.properties());
            this.configuredOperatorToken = cluster.operatorToken();
        } else {
            this.extraProperties = extraProperties;
            this.configuredOperatorToken = extraProperties.get(OPERATOR_TOKEN);
        }
    }

    /** The token an operator of this service sends. */
    String operatorToken() {
        if (configuredOperatorToken != null) {
            return configuredOperatorToken;
        }
        try {
            return Files.readString(dataDir.resolve("operator.token")).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("no operator token in " + dataDir + " (has the service started?)", e);
        }
    }

    /** REST Assured at this service, as its operator. */
    RequestSpecification api() {
        return RestAssured.given().baseUri(baseUri()).auth().oauth2(operatorToken());
    }

    /** A request to this service, as its operator. */
    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(baseUri() + path)).header("Authorization", "Bearer " + operatorToken());
    }

    int httpPort() {
        return httpPort;
    }

    String baseUri() {
        return "http://localhost:" + httpPort;
    }

    /**
     * Properties that make another service process a node of this one's cluster: its datasource is this one's
     * embedded PostgreSQL, and it takes this one's operator token and cluster secret (README.md, "Authentication").
     */
    Map<String, String> sharedDatabase() throws IOException {
        Path tokensFile = Files.createTempFile(dataDir.getParent(), "cluster-tokens-", "");
        Files.writeString(tokensFile, "operator " + ClusterCredentials.sha256Hex(operatorToken()) + "\n");
        return Map.of(JDBC_URL, "jdbc:postgresql://localhost:" + databasePort + "/postgres",
                "quarkus.datasource.username", "postgres", "quarkus.datasource.password", "postgres",
                TOKENS_FILE, tokensFile.toString(),
                CLUSTER_SECRET, Files.readString(dataDir.resolve("cluster.secret")).strip(),
                OPERATOR_TOKEN, operatorToken());
    }

    ServiceProcess start() throws IOException, InterruptedException {
        launch();
        awaitReady(Duration.ofSeconds(90));
        return this;
    }

    /** Starts the service and waits for it to end by itself, as it does when it refuses to run. */
    int startExpectingExit(Duration timeout) throws IOException, InterruptedException {
        launch();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("the service was still running after " + timeout + ":\n" + log());
        }
        return process.exitValue();
    }

    private void launch() throws IOException {
        String jar = System.getProperty("quarkvm.jar", "target/quarkus-app/quarkus-run.jar");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dquarkvm.data-dir=" + dataDir, "-Dquarkvm.embedded-db.port=" + databasePort,
                "-Dquarkus.http.port=" + httpPort, "-Dquarkvm.node.url=" + baseUri()));
        if ("emulated".equals(System.getProperty(TestHypervisors.BACKEND_PROPERTY))) {
            command.add("-Dquarkvm.node.hypervisor=emulated"); // as the VMM tests: the software backend on a KVM host
        }
        extraProperties.forEach((key, value) -> {
            if (!key.equals(OPERATOR_TOKEN)) {
                command.add("-D" + key + "=" + value);
            }
        });
        command.addAll(List.of("-jar", jar));
        log = Files.createTempFile(dataDir.getParent(), "service-", ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().remove("QUARKUS_DATASOURCE_JDBC_URL");
        process = builder.start();
    }

    private void awaitReady(Duration timeout) throws IOException, InterruptedException {
        HttpClient client = HttpClient.newHttpClient();
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the service exited with " + process.exitValue() + ":\n" + Files.readString(log));
            }
            try {
                var response = client.send(HttpRequest.newBuilder(URI.create(baseUri() + "/q/health/ready")).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (response.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the service was not ready within " + timeout + ":\n" + Files.readString(log));
    }

    /**
     * Skips the calling test, loudly, when this service's node cannot run VMs (neither /dev/kvm nor libunicorn.so.2),
     * and says which backend its guests run on.
     */
    void requireGuests() {
        var nodes = api().get("/api/v1/nodes").then().extract().jsonPath();
        if (!nodes.getBoolean("items[0].canRunVms")) {
            System.err.println("SKIPPED (no backend to run guests): " + nodes.getString("items[0].reason"));
        } else {
            System.out.println("guests run on the " + nodes.getString("items[0].hypervisor") + " backend");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(nodes.getBoolean("items[0].canRunVms"),
                "no backend to run guests: " + nodes.getString("items[0].reason"));
    }

    /** Every line of GET /api/v1/events from now on (the stream is open on return), as it arrives. */
    List<String> eventLines() throws IOException, InterruptedException {
        HttpResponse<Stream<String>> response = HttpClient.newHttpClient().send(
                request("/api/v1/events").build(), HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("GET /api/v1/events answered " + response.statusCode());
        }
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> response.body().forEach(lines::add), "event-stream-reader");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    int databasePort() {
        return databasePort;
    }

    /** The embedded PostgreSQL server this service runs, as its postmaster.pid names it. */
    ProcessHandle postmaster() throws IOException {
        return postmasterOf(dataDir.resolve("postgres"));
    }

    /** The postmaster running on a PostgreSQL data directory. */
    static ProcessHandle postmasterOf(Path postgresDataDir) throws IOException {
        long pid = Long.parseLong(Files.readAllLines(postgresDataDir.resolve("postmaster.pid")).get(0).trim());
        return ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException("no process " + pid));
    }

    /** SIGKILL of a PostgreSQL server's postmaster, as a crash or the OOM killer would end it; returns once it is gone. */
    static void sigkill(ProcessHandle postmaster) throws Exception {
        postmaster.destroyForcibly();
        postmaster.onExit().get(30, TimeUnit.SECONDS);
    }

    /** SIGTERM: what systemd or Kubernetes sends; the service shuts down in order. */
    int stopGracefully() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the service did not stop within 60 s of SIGTERM");
        }
        return process.exitValue();
    }

    /** SIGKILL: the process gets no chance to clean up. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws Exception {
        if (process != null && process.isAlive()) {
            stopGracefully();
        }
    }

    /**
     * A port nothing listens on, below the kernel's ephemeral range: a port from that range (what binding to port 0
     * gives) can be taken as the local end of any outgoing connection between this probe and the service binding it.
     */
    static int freePort() {
        int below = ephemeralRangeStart();
        for (int attempt = 0; attempt < 1000; attempt++) {
            int candidate = 10_000 + RANDOM.nextInt(below - 10_000);
            if (HANDED_OUT.add(candidate) && isFree(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no free port between 10000 and " + below);
    }

    private static boolean isFree(int port) {
        try (ServerSocket socket = new ServerSocket(port)) {
            return true;
        } catch (IOException taken) {
            return false;
        }
    }

    private static int ephemeralRangeStart() {
        try {
            // readAllLines, not readString: /proc files report size 0 and readString returns only the first byte
            String range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0);
            return Integer.parseInt(range.trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException unreadable) {
            return 32_768;
        }
    }
}

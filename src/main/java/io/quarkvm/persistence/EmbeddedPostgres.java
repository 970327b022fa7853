package io.quarkvm.persistence;

import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL server from the zonky binaries on Maven Central, for a node (and the tests) with no database
 * configured. The data directory persists; a server orphaned by a SIGKILLed service is shut down and restarted
 * on the same data, so nothing that was committed is lost.
 */
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgres.class);
    private static final Duration ORPHAN_SHUTDOWN_WAIT = Duration.ofSeconds(30);

    private static volatile EmbeddedPostgres ownedByThisProcess;

    private final io.zonky.test.db.postgres.embedded.EmbeddedPostgres server;

    private EmbeddedPostgres(io.zonky.test.db.postgres.embedded.EmbeddedPostgres server) {
        this.server = server;
    }

    /**
     * Starts the server this service process runs on; it is stopped by {@link EmbeddedPostgresShutdown} after
     * everything else that needs the database has shut down (a JVM shutdown hook would race with Quarkus's).
     */
    public static EmbeddedPostgres startForThisProcess(Path dataDir, int port) {
        ownedByThisProcess = start(dataDir, port, false);
        return ownedByThisProcess;
    }

    static Optional<EmbeddedPostgres> ownedByThisProcess() {
        return Optional.ofNullable(ownedByThisProcess);
    }

    /** Starts (initialising it the first time) a server on {@code dataDir}; port 0 picks a free one. */
    public static EmbeddedPostgres start(Path dataDir, int port, boolean stopWithJvm) {
        try {
            Files.createDirectories(dataDir);
            stopOrphanedServer(dataDir);
            var builder = io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
                    .setDataDirectory(dataDir)
                    .setCleanDataDirectory(false)
                    .setPGStartupWait(Duration.ofSeconds(60))
                    .setRegisterShutdownHook(stopWithJvm)
                    .setServerConfig("max_connections", "100");
            if (port != 0) {
                builder.setPort(port);
            }
            var server = builder.start();
            LOG.infof("embedded PostgreSQL on port %d, data in %s", server.getPort(), dataDir.toAbsolutePath());
            return new EmbeddedPostgres(server);
        } catch (IOException e) {
            throw new UncheckedIOException("could not start the embedded PostgreSQL in " + dataDir, e);
        }
    }

    public int port() {
        return server.getPort();
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://localhost:" + port() + "/postgres";
    }

    public String username() {
        return "postgres";
    }

    public String password() {
        return "postgres";
    }

    /**
     * A service killed with SIGKILL leaves its postmaster running (pg_ctl daemonises it) and holding the data
     * directory; a smart shutdown lets it finish cleanly now that its clients are gone.
     */
    private static void stopOrphanedServer(Path dataDir) throws IOException {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        List<String> lines = Files.readAllLines(pidFile);
        if (lines.isEmpty()) {
            return;
        }
        Optional<ProcessHandle> postmaster = ProcessHandle.of(Long.parseLong(lines.get(0).trim()))
                .filter(p -> p.info().command().map(c -> c.endsWith("/postgres")).orElse(false));
        if (postmaster.isEmpty()) {
            return;
        }
        LOG.warnf("shutting down the PostgreSQL server (pid %d) left running on %s", postmaster.get().pid(), dataDir);
        postmaster.get().destroy();
        try {
            postmaster.get().onExit().get(ORPHAN_SHUTDOWN_WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (Exception e) {
            postmaster.get().destroyForcibly();
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

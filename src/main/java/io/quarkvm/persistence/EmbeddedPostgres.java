package io.quarkvm.persistence;

import io.zonky.test.db.postgres.util.LinuxUtils;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A real PostgreSQL server from the zonky binaries on Maven Central, for a node (and the tests) with no database
 * configured. It runs durably: a commit is acknowledged only once its WAL is flushed to disk. The data directory
 * persists; a server orphaned by a SIGKILLed service is shut down and restarted on the same data, and a server that
 * died under a running service is started again on the same data and port ({@link EmbeddedPostgresSupervisor}).
 */
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgres.class);
    private static final Duration ORPHAN_SHUTDOWN_WAIT = Duration.ofSeconds(30);
    private static final Duration RESTART_WAIT = Duration.ofSeconds(60);
    private static final String PID_FILE = "postmaster.pid";
    private static final String RESTARTED_SERVER_LOG = "postgres.log";

    private static volatile EmbeddedPostgres ownedByThisProcess;

    private final Path dataDir;
    private final io.zonky.test.db.postgres.embedded.EmbeddedPostgres server;
    /** The pg_ctl next to the postgres binary zonky extracted. */
    private final Path pgCtl;
    private volatile ProcessHandle postmaster;

    private EmbeddedPostgres(Path dataDir, io.zonky.test.db.postgres.embedded.EmbeddedPostgres server,
                             ProcessHandle postmaster) {
        this.dataDir = dataDir;
        this.server = server;
        this.postmaster = postmaster;
        this.pgCtl = Path.of(postmaster.info().command().orElseThrow()).resolveSibling("pg_ctl");
    }

    /**
     * Starts the server this service process runs on, in {@code <data-dir>/postgres}. Holding the directory's lock
     * is what makes it safe to shut down a server found running there: only a dead instance can have left it. The
     * server is stopped by {@link EmbeddedPostgresSupervisor} after everything else that needs the database has shut
     * down (a JVM shutdown hook would race with Quarkus's).
     */
    public static EmbeddedPostgres startForThisProcess(DataDirectoryLock owner, int port) {
        Path dataDir = owner.directory().resolve("postgres");
        stopOrphanedServer(dataDir);
        ownedByThisProcess = start(dataDir, port, false);
        return ownedByThisProcess;
    }

    /** The server QuarkvmMain started for this process: present exactly when the service runs on the embedded database. */
    public static Optional<EmbeddedPostgres> ownedByThisProcess() {
        return Optional.ofNullable(ownedByThisProcess);
    }

    /** Starts (initialising it the first time) a server on {@code dataDir}; port 0 picks a free one. */
    public static EmbeddedPostgres start(Path dataDir, int port, boolean stopWithJvm) {
        try {
            Files.createDirectories(dataDir);
            // zonky's defaults are for throwaway test databases: it starts postgres with -F (fsync off) and its
            // builder sets synchronous_commit=off, so a commit could be acknowledged and then lost with the server.
            // A -c option comes after -F on the command line and wins over it.
            var builder = io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
                    .setDataDirectory(dataDir)
                    .setCleanDataDirectory(false)
                    .setPGStartupWait(Duration.ofSeconds(60))
                    .setRegisterShutdownHook(stopWithJvm)
                    .setServerConfig("fsync", "on")
                    .setServerConfig("synchronous_commit", "on")
                    .setServerConfig("full_page_writes", "on")
                    .setServerConfig("max_connections", "100");
            if (port != 0) {
                builder.setPort(port);
            }
            var server = builder.start();
            ProcessHandle postmaster = postmasterOf(dataDir).orElseThrow(() -> new IllegalStateException(
                    "the embedded PostgreSQL started but " + dataDir.resolve(PID_FILE) + " names no live server"));
            LOG.infof("embedded PostgreSQL on port %d, data in %s", server.getPort(), dataDir.toAbsolutePath());
            return new EmbeddedPostgres(dataDir, server, postmaster);
        } catch (IOException e) {
            throw new UncheckedIOException("could not start the embedded PostgreSQL in " + dataDir, e);
        }
    }

    /** Whether the server's postmaster process is still there. */
    public boolean isRunning() {
        return postmaster.isAlive();
    }

    /**
     * Starts the server again on the same data, port and options, after its postmaster died: {@code pg_ctl restart}
     * reads them from the {@code postmaster.opts} the server wrote, and waits until recovery from the WAL has
     * finished, so every commit it acknowledged is there again. zonky's object stays the owner (it stops whatever
     * runs on the directory when it is closed).
     *
     * @throws IllegalStateException when it could not be started (the caller tries again later)
     */
    synchronized void restart() {
        LOG.warnf("the embedded PostgreSQL (pid %d) is gone; starting it again on port %d, data in %s",
                postmaster.pid(), port(), dataDir.toAbsolutePath());
        List<String> command = new ArrayList<>();
        if (LinuxUtils.isUnshareAvailable()) {
            command.addAll(List.of("unshare", "-U")); // as zonky starts it: PostgreSQL refuses to run as root
        }
        // The server's own output goes to a file: a pipe would be held open by the server long after pg_ctl is done.
        Path serverLog = dataDir.resolveSibling(RESTARTED_SERVER_LOG);
        command.addAll(List.of(pgCtl.toString(), "restart", "-D", dataDir.toString(), "-l", serverLog.toString(),
                "-m", "fast", "-w", "-t", Long.toString(RESTART_WAIT.toSeconds())));
        try {
            Process pgCtlRun = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(pgCtlRun.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (pgCtlRun.waitFor() != 0) {
                throw new IllegalStateException("pg_ctl restart failed (the server's log is " + serverLog + "): " + output);
            }
            postmaster = postmasterOf(dataDir).orElseThrow(() ->
                    new IllegalStateException("pg_ctl restart succeeded but no live server is in " + dataDir.resolve(PID_FILE)));
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while restarting the embedded PostgreSQL", e);
        }
        LOG.infof("the embedded PostgreSQL runs again (pid %d)", postmaster.pid());
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

    private static Optional<ProcessHandle> postmasterOf(Path dataDir) throws IOException {
        Path pidFile = dataDir.resolve(PID_FILE);
        if (!Files.exists(pidFile)) {
            return Optional.empty();
        }
        List<String> lines = Files.readAllLines(pidFile);
        if (lines.isEmpty() || lines.get(0).isBlank()) {
            return Optional.empty();
        }
        return ProcessHandle.of(Long.parseLong(lines.get(0).trim()))
                .filter(p -> p.info().command().map(c -> c.endsWith("/postgres")).orElse(false));
    }

    /**
     * A service killed with SIGKILL leaves its postmaster running (pg_ctl daemonises it) and holding the data
     * directory; a smart shutdown lets it finish cleanly now that its clients are gone.
     */
    private static void stopOrphanedServer(Path dataDir) {
        Optional<ProcessHandle> orphan;
        try {
            orphan = postmasterOf(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + dataDir.resolve(PID_FILE), e);
        }
        if (orphan.isEmpty()) {
            return;
        }
        LOG.warnf("shutting down the PostgreSQL server (pid %d) left running on %s", orphan.get().pid(), dataDir);
        orphan.get().destroy();
        try {
            orphan.get().onExit().get(ORPHAN_SHUTDOWN_WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (Exception e) {
            orphan.get().destroyForcibly();
        }
    }

    @Override
    public synchronized void close() {
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

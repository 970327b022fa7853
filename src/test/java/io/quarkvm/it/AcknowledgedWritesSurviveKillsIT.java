package io.quarkvm.it;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Several clients create VMs and hot-plug vCPUs as fast as the packaged service answers, while its embedded
 * PostgreSQL is SIGKILLed (the service starts it again and carries on by itself), and then while the service and
 * its PostgreSQL are SIGKILLed together (and the service is started again): every write the service acknowledged is
 * there afterwards with the version and the vCPU identities it was acknowledged with, round after round.
 */
class AcknowledgedWritesSurviveKillsIT {

    private static final int CLIENTS = 4;
    private static final int POSTMASTER_KILLS = 3;
    private static final int SERVICE_AND_POSTMASTER_KILLS = 2;
    /** Writes acknowledged before each kill, so that it falls amid the load, and after it, to show it goes on. */
    private static final int WRITES_AROUND_A_KILL = 40;
    private static final Duration WAIT = Duration.ofSeconds(60);

    @Test
    void noAcknowledgedWriteIsLostWhenPostgresOrServiceAndPostgresAreKilledUnderLoad() throws Exception {
        Path dataDir = Files.createTempDirectory("quarkvm-durable").resolve("data");
        AcknowledgedWrites writes = new AcknowledgedWrites();
        ServiceProcess service = new ServiceProcess(dataDir, Map.of()).start();
        try {
            assertDurable(service);
            long servicePid = service.pid();
            for (int round = 1; round <= POSTMASTER_KILLS; round++) {
                writes.start(service, CLIENTS);
                writes.awaitMoreAcknowledged(WRITES_AROUND_A_KILL, WAIT);
                Instant killed = Instant.now();
                ServiceProcess.sigkill(service.postmaster());
                writes.awaitMoreAcknowledged(WRITES_AROUND_A_KILL, WAIT);
                writes.stop();
                for (AcknowledgedWrites.Refusal refusal : writes.refusals()) {
                    DatabaseUnavailableAnswer.assertUnavailable(refusal.status(), refusal.retryAfter(), refusal.contentType(),
                            refusal.body(), service.databasePort());
                }
                int checked = writes.assertNoneLost(service);
                System.out.printf("round %d, postmaster SIGKILLed under load: %d acknowledged writes checked, none lost; %s%n",
                        round, checked, outage(writes, killed));
            }
            assertThat(service.pid()).as("the same service process healed its database").isEqualTo(servicePid);
            assertDurable(service);

            for (int round = 1; round <= SERVICE_AND_POSTMASTER_KILLS; round++) {
                writes.start(service, CLIENTS);
                writes.awaitMoreAcknowledged(WRITES_AROUND_A_KILL, WAIT);
                ProcessHandle postmaster = service.postmaster();
                postmaster.destroyForcibly();
                service.kill();
                postmaster.onExit().get();
                writes.stop();
                service = new ServiceProcess(dataDir, Map.of()).start();
                int checked = writes.assertNoneLost(service);
                System.out.printf("round %d, service and postmaster SIGKILLed together under load, service started "
                        + "again: %d acknowledged writes checked, none lost%n", round, checked);
            }
            assertDurable(service);
        } finally {
            service.close();
        }
    }

    /**
     * When writes were refused, relative to the kill, and when they were acknowledged again. (Commits under way when
     * the postmaster dies may still be acknowledged: its backends finish them, durably, before they notice.)
     */
    private static String outage(AcknowledgedWrites writes, Instant killed) {
        List<Instant> refused = writes.refusals().stream().map(AcknowledgedWrites.Refusal::at).sorted().toList();
        if (refused.isEmpty()) {
            return "no write refused";
        }
        Instant last = refused.get(refused.size() - 1);
        return String.format("%d writes answered 503 from %d ms to %d ms after the kill, acknowledged again from %d ms",
                refused.size(), Duration.between(killed, refused.get(0)).toMillis(), Duration.between(killed, last).toMillis(),
                Duration.between(killed, writes.firstAcknowledgedAfter(last)).toMillis());
    }

    /** The server commits durably, whatever the embedded library's defaults for test databases are. */
    private static void assertDurable(ServiceProcess service) throws SQLException {
        try (Connection connection = DriverManager.getConnection(
                "jdbc:postgresql://localhost:" + service.databasePort() + "/postgres", "postgres", "postgres");
             Statement statement = connection.createStatement()) {
            for (String setting : new String[] {"fsync", "synchronous_commit", "full_page_writes"}) {
                try (ResultSet result = statement.executeQuery("SHOW " + setting)) {
                    result.next();
                    assertThat(result.getString(1)).as(setting).isEqualTo("on");
                }
            }
        }
    }
}

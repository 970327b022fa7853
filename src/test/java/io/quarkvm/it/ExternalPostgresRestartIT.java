package io.quarkvm.it;

import io.restassured.specification.RequestSpecification;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * The packaged service on an external PostgreSQL (a real second server, started here) that is SIGKILLed under load
 * and started again on the same data and port: the service answers 503 with Retry-After while it is down, and
 * carries on by itself once it is back (the same process, never restarted), with every acknowledged write there.
 */
class ExternalPostgresRestartIT {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int WRITES_AROUND_THE_RESTART = 40;
    /** Long enough that the clients meet the outage, short enough to keep the test quick. */
    private static final Duration DOWNTIME = Duration.ofSeconds(3);

    @Test
    void theServiceOutlivesARestartOfItsExternalPostgresWithoutLosingAnAcknowledgedWrite() throws Exception {
        Path work = Files.createTempDirectory("quarkvm-external");
        Path pgData = work.resolve("external-postgres");
        int port = ServiceProcess.freePort();
        EmbeddedPostgres server = startExternal(pgData, port);
        Map<String, String> external = Map.of("quarkus.datasource.jdbc.url", "jdbc:postgresql://localhost:" + port + "/postgres",
                "quarkus.datasource.username", "postgres", "quarkus.datasource.password", "postgres");
        try (ServiceProcess service = new ServiceProcess(work.resolve("data"), external).start()) {
            AcknowledgedWrites writes = new AcknowledgedWrites();
            writes.start(service, 2);
            writes.awaitMoreAcknowledged(WRITES_AROUND_THE_RESTART, WAIT);

            ServiceProcess.sigkill(ServiceProcess.postmasterOf(pgData));
            DatabaseUnavailableAnswer.assertUnavailable(api(service).get("/api/v1/vms"), port);
            api(service).get("/q/health/ready").then().statusCode(503).body("status", equalTo("DOWN"));
            api(service).get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
            Thread.sleep(DOWNTIME.toMillis());
            server.close(); // what is left of it: zonky's lock on the data directory (its pg_ctl stop fails, and says so)
            server = startExternal(pgData, port);
            Instant back = Instant.now();

            Await.until("the service answering again", WAIT, () -> api(service).get("/api/v1/vms").statusCode() == 200);
            System.out.printf("external PostgreSQL back on the same data and port -> the service answers 200: %d ms%n",
                    Duration.between(back, Instant.now()).toMillis());
            writes.awaitMoreAcknowledged(WRITES_AROUND_THE_RESTART, WAIT);
            writes.stop();
            List<AcknowledgedWrites.Refusal> refusals = writes.refusals();
            assertThat(refusals).as("writes refused while the server was down").isNotEmpty();
            for (AcknowledgedWrites.Refusal refusal : refusals) {
                DatabaseUnavailableAnswer.assertUnavailable(refusal.status(), refusal.retryAfter(), refusal.contentType(),
                        refusal.body(), port);
            }
            int checked = writes.assertNoneLost(service);
            System.out.printf("external PostgreSQL SIGKILLed under load and started again: %d acknowledged writes checked, "
                    + "none lost; %d writes answered 503 meanwhile%n", checked, refusals.size());

            assertThat(service.isAlive()).as("the service was not restarted").isTrue();
            api(service).get("/q/health/live").then().statusCode(200);
            Await.until("readiness UP", WAIT, () -> api(service).get("/q/health/ready").statusCode() == 200);
            List<String> events = service.eventLines();
            api(service).contentType("application/json")
                    .body("{\"name\":\"listened\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}")
                    .post("/api/v1/vms").then().statusCode(201);
            Await.until("its created event, on a stream opened after the restart", WAIT,
                    () -> events.stream().anyMatch(line -> line.contains("\"listened\"")));
            // the event feed also polls the log: only the log tells whether LISTEN is back
            Await.until("LISTEN subscribed again", WAIT, () -> {
                try {
                    return service.log().contains("LISTEN subscribed again");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } finally {
            server.close();
        }
    }

    /** The "external" server: a real PostgreSQL of its own, committing durably as any production server does. */
    private static EmbeddedPostgres startExternal(Path dataDir, int port) throws IOException {
        return EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(false).setPort(port)
                .setServerConfig("fsync", "on").setServerConfig("synchronous_commit", "on")
                .setPGStartupWait(WAIT).start();
    }

    private static RequestSpecification api(ServiceProcess service) {
        return service.api();
    }
}

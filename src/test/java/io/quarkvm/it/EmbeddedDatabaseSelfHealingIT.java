package io.quarkvm.it;

import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

/**
 * The packaged service's embedded PostgreSQL is SIGKILLed, and its port taken by another program so that it cannot
 * come back at once. Meanwhile every database-backed call is a 503 with Retry-After, readiness is DOWN, and liveness
 * stays UP until the configured number of restarts failed in a row. Once the port is free again the service starts
 * its server by itself and carries on, the same process: what was acknowledged is there, server-sent events flow
 * again (LISTEN subscribed again), the node's heartbeat goes on with its name claimed again, and liveness is UP again.
 */
class EmbeddedDatabaseSelfHealingIT {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @Test
    void theServiceStartsItsDeadDatabaseAgainAndCarriesOnAnswering503Meanwhile() throws Exception {
        Path dataDir = Files.createTempDirectory("quarkvm-heal").resolve("data");
        try (ServiceProcess service = new ServiceProcess(dataDir, Map.of("quarkvm.embedded-db.restart-attempts", "3",
                "quarkvm.node.heartbeat-interval", "1s")).start()) {
            List<String> events = service.eventLines();
            String id = api(service).contentType("application/json")
                    .body("{\"name\":\"before\",\"topology\":{\"sockets\":1,\"cores\":4,\"threads\":1},\"vcpus\":1}")
                    .post("/api/v1/vms").then().statusCode(201).extract().path("id");
            api(service).contentType("application/json").body("{\"socket\":0,\"core\":2,\"thread\":0}")
                    .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
            String acknowledged = api(service).get("/api/v1/vms/" + id).then().statusCode(200).extract().asString();
            Await.until("the created event", WAIT, () -> events.stream().anyMatch(line -> line.contains("\"before\"")));

            Instant freed;
            try (PortTaker taker = PortTaker.killAndTake(service.postmaster(), service.databasePort())) {
                api(service).get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
                int port = service.databasePort();
                DatabaseUnavailableAnswer.assertUnavailable(api(service).get("/api/v1/vms/" + id), port);
                DatabaseUnavailableAnswer.assertUnavailable(api(service).get("/api/v1/vms"), port);
                DatabaseUnavailableAnswer.assertUnavailable(api(service).contentType("application/json")
                        .body("{\"name\":\"during\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}")
                        .post("/api/v1/vms"), port);
                DatabaseUnavailableAnswer.assertUnavailable(api(service).contentType("application/json")
                        .body("{\"socket\":0,\"core\":3,\"thread\":0}").post("/api/v1/vms/" + id + "/vcpus"), port);
                api(service).get("/q/health/ready").then().statusCode(503).body("status", equalTo("DOWN"));
                Await.until("liveness DOWN after 3 failed restarts", WAIT, () -> api(service).get("/q/health/live").statusCode() == 503);
                System.out.println("while the port was taken: " + api(service).get("/q/health").asString().replaceAll("\\s+", " "));
                assertThat(taker.connectionsRefused()).as("the service kept trying to connect").isPositive();
                freed = Instant.now();
            }

            Await.until("the VM readable again", WAIT, () -> api(service).get("/api/v1/vms/" + id).statusCode() == 200);
            System.out.printf("the embedded PostgreSQL's port freed -> the service answers 200 again: %d ms%n",
                    Duration.between(freed, Instant.now()).toMillis());
            api(service).get("/api/v1/vms/" + id).then().statusCode(200).body(equalTo(acknowledged));
            api(service).get("/q/health/live").then().statusCode(200);
            Await.until("readiness UP", WAIT, () -> api(service).get("/q/health/ready").statusCode() == 200);

            api(service).contentType("application/json")
                    .body("{\"name\":\"after\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}")
                    .post("/api/v1/vms").then().statusCode(201);
            Await.until("the created event of a VM created after the restart, on the stream opened before it", WAIT,
                    () -> events.stream().anyMatch(line -> line.contains("\"after\"")));
            Await.until("a heartbeat after the restart", WAIT, () -> Instant.parse(api(service).get("/api/v1/nodes").then()
                    .extract().path("items[0].lastHeartbeat")).isAfter(freed));
            try (Connection database = DriverManager.getConnection("jdbc:postgresql://localhost:" + service.databasePort()
                    + "/postgres", "postgres", "postgres");
                 ResultSet locks = database.createStatement()
                         .executeQuery("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")) {
                locks.next();
                assertThat(locks.getInt(1)).as("the node name's advisory lock, claimed again").isEqualTo(1);
            }
            assertThat(service.isAlive()).isTrue();
            assertThat(service.log()).contains("starting it again").contains("LISTEN subscribed again");
        }
    }

    private static RequestSpecification api(ServiceProcess service) {
        return service.api();
    }

    /**
     * Another program on the database's port: it takes the port the moment the killed server lets go of it, so the
     * server cannot be started there, and hangs up on whoever connects.
     */
    private static final class PortTaker implements AutoCloseable {

        private final ServerSocket socket;
        private final Thread acceptor;
        private volatile int connectionsRefused;

        private PortTaker(ServerSocket socket) {
            this.socket = socket;
            this.acceptor = new Thread(this::hangUpOnEveryone, "port-taker");
            acceptor.start();
        }

        static PortTaker killAndTake(ProcessHandle postmaster, int port) throws Exception {
            postmaster.destroyForcibly();
            Instant deadline = Instant.now().plusSeconds(5);
            while (true) {
                try {
                    return new PortTaker(new ServerSocket(port));
                } catch (IOException stillHeld) {
                    assertThat(Instant.now()).as("taking port %d: %s", port, stillHeld.getMessage()).isBefore(deadline);
                }
            }
        }

        private void hangUpOnEveryone() {
            while (!socket.isClosed()) {
                try (Socket connection = socket.accept()) {
                    connectionsRefused++;
                } catch (IOException closed) {
                    return;
                }
            }
        }

        int connectionsRefused() {
            return connectionsRefused;
        }

        @Override
        public void close() throws Exception {
            socket.close();
            acceptor.join();
        }
    }
}

package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkvm.TestCredentials;
import io.quarkvm.migration.IncomingMigrations;
import io.quarkvm.migration.MigrationRefusedException;
import io.quarkvm.migration.StreamClient;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Alternative;
import io.quarkus.test.common.http.TestHTTPResource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.time.Duration;
import java.time.Instant;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The node-to-node stream route and client over real HTTP: only the cluster secret gets in, the body is read as it
 * arrives however long (far beyond the API's 64 KiB limit), and a target that refuses early is heard.
 */
@QuarkusTest
@TestProfile(MigrationStreamRouteTest.RecordingTarget.class)
class MigrationStreamRouteTest {

    /** The stream's bytes go to {@link RecordingIncomingMigrations}: the transport alone, no VM. */
    public static class RecordingTarget implements QuarkusTestProfile {
        @Override
        public Set<Class<?>> getEnabledAlternatives() {
            return Set.of(RecordingIncomingMigrations.class);
        }
    }

    /** Reads a stream whole and keeps its length and CRC32C; refuses the migration ids in {@link #refuse} at once. */
    @Alternative
    @Priority(1)
    @ApplicationScoped
    public static class RecordingIncomingMigrations implements IncomingMigrations {
        static final Instant RESUMED_AT = Instant.parse("2026-12-02T10:00:00.123456Z");

        private final ConcurrentHashMap<UUID, long[]> received = new ConcurrentHashMap<>();
        private final Set<UUID> refused = ConcurrentHashMap.newKeySet();

        /** Methods, not fields: the test holds a client proxy, whose fields are not the bean's. */
        void refuse(UUID migrationId) {
            refused.add(migrationId);
        }

        /** The length and CRC32C of what arrived, or null. */
        long[] received(UUID migrationId) {
            return received.get(migrationId);
        }

        @Override
        public Instant receive(UUID migrationId, InputStream stream) throws IOException {
            if (refused.contains(migrationId)) {
                throw new MigrationRefusedException(409, "this node is not the migration's target");
            }
            CRC32C crc = new CRC32C();
            byte[] buffer = new byte[65536];
            long length = 0;
            for (int read; (read = stream.read(buffer)) >= 0; ) {
                crc.update(buffer, 0, read);
                length += read;
            }
            received.put(migrationId, new long[] {length, crc.getValue()});
            return RESUMED_AT;
        }
    }

    @jakarta.inject.Inject
    RecordingIncomingMigrations target;

    @TestHTTPResource("/")
    URL root;

    private final StreamClient client = new StreamClient(Duration.ofSeconds(5));

    private String url() {
        return "http://localhost:" + root.getPort();
    }

    @Test
    void aStreamOfManyMegabytesArrivesWholeAndInOrder() throws IOException {
        UUID migration = UUID.randomUUID();
        byte[] bytes = new byte[24 << 20];
        new Random(7).nextBytes(bytes);
        CRC32C sent = new CRC32C();
        sent.update(bytes);

        StreamClient.Answer answer = client.send(url(), migration, TestCredentials.CLUSTER_SECRET, stream -> {
            for (int offset = 0; offset < bytes.length; offset += 100_000) {
                stream.write(bytes, offset, Math.min(100_000, bytes.length - offset));
            }
        }, Duration.ofSeconds(10));

        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        assertThat(answer.body())
                .isEqualTo("{\"outcome\":\"RUNNING\",\"resumedAt\":\"" + RecordingIncomingMigrations.RESUMED_AT + "\"}");
        assertThat(target.received(migration)).containsExactly(bytes.length, sent.getValue());
    }

    @Test
    void onlyTheClusterSecretGetsIn() throws IOException {
        for (String token : new String[] {TestCredentials.OPERATOR, "not-a-token"}) {
            UUID migration = UUID.randomUUID();
            StreamClient.Answer answer = client.send(url(), migration, token,
                    stream -> stream.write(new byte[1 << 20]), Duration.ofSeconds(10));
            assertThat(answer.status()).isIn(401, 403);
            assertThat(answer.body()).contains("\"status\":" + answer.status());
            assertThat(target.received(migration)).isNull();
        }
    }

    @Test
    void aTargetThatRefusesAtOnceEndsTheSendWithoutWaitingForIt() {
        UUID migration = UUID.randomUUID();
        target.refuse(migration);

        // The refusal's reason reaches the source through the migration's row (the target records it); on the wire
        // the source sees its answer, or the connection the target closed, but never a stall.
        try {
            StreamClient.Answer answer = client.send(url(), migration, TestCredentials.CLUSTER_SECRET, stream -> {
                byte[] megabyte = new byte[1 << 20];
                for (int i = 0; i < 256; i++) {
                    stream.write(megabyte);
                }
            }, Duration.ofSeconds(10));
            assertThat(answer.status()).as(answer.body()).isEqualTo(409);
            assertThat(answer.body()).contains("not the migration's target").contains("migration-refused");
        } catch (IOException e) {
            assertThat(e.getMessage()).doesNotContain("read nothing");
        }
        assertThat(target.received(migration)).isNull();
    }

    @Test
    void aTargetThatIsNotThereFailsTheSendQuickly() {
        assertThatThrownBy(() -> client.send("http://localhost:1", UUID.randomUUID(), TestCredentials.CLUSTER_SECRET,
                stream -> stream.write(new byte[1 << 20]), Duration.ofSeconds(10))).isInstanceOf(IOException.class);
    }
}

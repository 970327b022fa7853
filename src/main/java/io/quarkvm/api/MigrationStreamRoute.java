package io.quarkvm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.migration.IncomingMigrations;
import io.quarkvm.migration.MigrationRefusedException;
import io.quarkvm.migration.RequestBodyStream;
import io.quarkvm.vmm.SnapshotFormatException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The node-to-node end of a live migration (docs/MIGRATION.md, "The stream"): another node POSTs the stream of a VM
 * to {@value #PATH}, chunked and as long as the VM's memory. It is a plain Vert.x route rather than a JAX-RS
 * resource so that the body is read as it arrives, with back-pressure ({@link RequestBodyStream}), and not held
 * to the API's body limit. Only a caller holding the cluster secret (role node) gets here: the permission
 * {@code quarkvm-nodes} of application.properties is checked before a byte of the body is read. One stream per
 * connection: the answer closes it, also when the target refused before reading everything.
 */
@ApplicationScoped
public class MigrationStreamRoute {

    public static final String PATH_PREFIX = "/internal/v1/migrations/";
    static final String PATH = PATH_PREFIX + ":id/stream";
    private static final Logger LOG = Logger.getLogger(MigrationStreamRoute.class);

    private final IncomingMigrations incoming;
    private final ObjectMapper json;
    /** A source that sends nothing for this long has hung or gone: the half-built VM is discarded. */
    private final long sourceIdleTimeoutMillis;
    /** Reading a stream blocks for as long as the migration takes: never on an event loop or the API's workers. */
    private final ExecutorService readers = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "migration-incoming");
        thread.setDaemon(true);
        return thread;
    });

    MigrationStreamRoute(IncomingMigrations incoming, ObjectMapper json, QuarkvmConfig config) {
        this.incoming = incoming;
        this.json = json;
        this.sourceIdleTimeoutMillis = config.migration().stallTimeout().toMillis();
    }

    void install(@Observes Router router) {
        router.post(PATH).handler(this::receive);
    }

    @PreDestroy
    void stopReading() {
        readers.shutdownNow();
    }

    private void receive(RoutingContext context) {
        UUID migrationId;
        try {
            migrationId = UUID.fromString(context.pathParam("id"));
        } catch (IllegalArgumentException e) {
            answer(context, Answer.of(Problem.of(400, "invalid-value", "Invalid value",
                    "the migration id must be a UUID: " + context.pathParam("id"), "id")));
            return;
        }
        RequestBodyStream stream = new RequestBodyStream(context.request(), sourceIdleTimeoutMillis);
        readers.execute(() -> answer(context, outcome(migrationId, stream)));
    }

    /** What the source is told: that the VM runs here, and since when, or a problem. */
    private Answer outcome(UUID migrationId, RequestBodyStream stream) {
        try {
            return new Answer(200, "application/json", new Running("RUNNING", incoming.receive(migrationId, stream)));
        } catch (MigrationRefusedException e) {
            LOG.warnf("refused migration %s: %s", migrationId, e.getMessage());
            return Answer.of(Problem.of(e.status(), "migration-refused", "Migration refused", e.getMessage(), null));
        } catch (SnapshotFormatException e) {
            LOG.warnf("rejected the stream of migration %s: %s", migrationId, e.getMessage());
            return Answer.of(Problem.of(422, "migration-stream-invalid", "Invalid migration stream", e.getMessage(),
                    null));
        } catch (IOException e) {
            LOG.warnf("the stream of migration %s broke off: %s", migrationId, e.getMessage());
            return Answer.of(Problem.of(400, "migration-stream-broken", "Migration stream broken", e.getMessage(),
                    null));
        } catch (RuntimeException e) {
            return Answer.of(ProblemMappers.unexpectedFailure(e));
        }
    }

    /** The target's answer: 200 with {@link Running}, or a problem. */
    private record Answer(int status, String mediaType, Object body) {
        static Answer of(Problem problem) {
            return new Answer(problem.status(), Problem.MEDIA_TYPE, problem);
        }
    }

    /**
     * The VM runs here since {@code resumedAt} (this node's clock), which the source records beside its own pause
     * instant (the guest's downtime where the clocks agree).
     */
    record Running(String outcome, Instant resumedAt) {
    }

    /**
     * An answer given before the body ended (a refusal) closes the connection once written: the source learns at its
     * next write rather than sending the rest into a paused request.
     */
    private void answer(RoutingContext context, Answer answer) {
        HttpServerResponse response = context.response();
        response.putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
        if (!context.request().isEnded()) {
            response.endHandler(written -> context.request().connection().close());
        }
        response.setStatusCode(answer.status()).putHeader(HttpHeaders.CONTENT_TYPE, answer.mediaType())
                .end(Buffer.buffer(bytes(answer.body())));
    }

    private byte[] bytes(Object value) {
        try {
            return json.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}

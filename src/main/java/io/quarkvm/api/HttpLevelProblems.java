package io.quarkvm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import io.quarkus.vertx.http.runtime.RouteConstants;
import io.quarkvm.security.BearerTokenMechanism;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.HttpException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.io.UncheckedIOException;

/**
 * The failures answered before a request reaches a resource, as application/problem+json like every other error:
 * a body or URI larger than the server accepts, a path nothing serves, a failure outside JAX-RS. Left to Vert.x and
 * Quarkus these get an empty or HTML body.
 */
@ApplicationScoped
public class HttpLevelProblems {

    /**
     * RFC 9112 §3 asks servers to read request lines of at least 8000 octets. The HTTP decoder reads lines up to
     * quarkus.http.limits.max-initial-line-length (set far higher) so that a longer URI gets here and is answered
     * with a problem; a line beyond even that is refused by the decoder itself (a bare 414).
     */
    static final int MAX_URI_LENGTH = 8192;
    /** Before Quarkus's own body-size check, which answers 413 with an empty body. */
    private static final int FIRST = RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT - 1;

    private final ObjectMapper json;
    private final long maxBodyBytes;
    /**
     * A chunked body has no length to check up front: it is read here, up to the limit, and handed to JAX-RS as
     * read (RESTEasy Reactive takes a body already read); beyond the limit this fails the route with 413.
     */
    private final BodyHandler chunkedBody;

    HttpLevelProblems(ObjectMapper json,
                      @ConfigProperty(name = "quarkus.http.limits.max-body-size") MemorySize maxBodySize) {
        this.json = json;
        this.maxBodyBytes = maxBodySize.asLongValue();
        this.chunkedBody = BodyHandler.create(false).setBodyLimit(maxBodyBytes);
    }

    void install(@Observes Router router) {
        router.route().order(FIRST).handler(this::refuseOversized);
        router.route().order(FIRST).failureHandler(this::failed);
        router.errorHandler(404, context -> send(context, ProblemMappers.noResource(context.request().path())));
    }

    private void refuseOversized(RoutingContext context) {
        HttpServerRequest request = context.request();
        if (request.uri().length() > MAX_URI_LENGTH) {
            sendAndClose(context, Problem.of(414, "uri-too-long", "URI too long", "the request URI has "
                    + request.uri().length() + " characters; this server reads at most " + MAX_URI_LENGTH, null));
            return;
        }
        if (request.path().startsWith(MigrationStreamRoute.PATH_PREFIX)) {
            context.next(); // a migration stream is as long as the VM's memory, and read as it arrives
            return;
        }
        long length = contentLength(request);
        if (length > maxBodyBytes) {
            sendAndClose(context, bodyTooLarge("the request body has " + length + " bytes; this server reads at most "
                    + maxBodyBytes));
            return;
        }
        boolean chunked = HttpHeaders.CHUNKED.toString().equalsIgnoreCase(request.getHeader(HttpHeaders.TRANSFER_ENCODING));
        if (length < 0 && chunked) {
            chunkedBody.handle(context);
            return;
        }
        context.next();
    }

    /**
     * A route failed outside JAX-RS (whose failures ProblemMappers answers): a body cut off at the limit, say, or a
     * missing or refused token on /q/metrics when quarkvm.auth.protect-metrics asks for one.
     */
    private void failed(RoutingContext context) {
        if (context.response().headWritten()) {
            context.next();
            return;
        }
        Throwable failure = context.failure();
        if (failure instanceof UnauthorizedException) {
            context.response().putHeader(jakarta.ws.rs.core.HttpHeaders.WWW_AUTHENTICATE, BearerTokenMechanism.CHALLENGE);
            send(context, ProblemMappers.missingToken());
            return;
        }
        if (failure instanceof AuthenticationFailedException) {
            context.response().putHeader(jakarta.ws.rs.core.HttpHeaders.WWW_AUTHENTICATE, BearerTokenMechanism.INVALID_TOKEN_CHALLENGE);
            send(context, ProblemMappers.invalidToken());
            return;
        }
        if (failure instanceof ForbiddenException) {
            send(context, ProblemMappers.forbidden());
            return;
        }
        int status = failure instanceof HttpException http ? http.getStatusCode()
                : failure == null ? context.statusCode() : 500;
        if (status == 413) {
            sendAndClose(context, bodyTooLarge("the request body is longer than the " + maxBodyBytes
                    + " bytes this server reads"));
        } else if (status >= 400 && status != 500) {
            send(context, ProblemMappers.ofStatus(status));
        } else {
            send(context, ProblemMappers.unexpectedFailure(failure));
        }
    }

    private static Problem bodyTooLarge(String detail) {
        return Problem.of(413, "body-too-large", "Content too large", detail, null);
    }

    /** -1 when the client did not say (a chunked body, which the limit cuts off while it is read). */
    private static long contentLength(HttpServerRequest request) {
        String header = request.getHeader(HttpHeaders.CONTENT_LENGTH);
        if (header == null) {
            return -1;
        }
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void send(RoutingContext context, Problem problem) {
        context.response().setStatusCode(problem.status())
                .putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
                .end(Buffer.buffer(bytes(problem)));
    }

    /** The rest of an oversized request is not read: the connection ends with the answer, as Quarkus's own 413 does. */
    private void sendAndClose(RoutingContext context, Problem problem) {
        context.response().putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
        context.response().endHandler(ended -> context.request().connection().close());
        send(context, problem);
    }

    private byte[] bytes(Problem problem) {
        try {
            return json.writeValueAsBytes(problem);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}

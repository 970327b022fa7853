package io.quarkvm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.quarkvm.domain.ConflictException;
import io.quarkvm.domain.InvalidSpecificationException;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.ForbiddenException;
import io.quarkus.security.UnauthorizedException;
import io.quarkvm.persistence.DatabaseUnavailable;
import io.quarkvm.security.BearerTokenMechanism;
import io.quarkvm.service.StaleVersionException;
import io.quarkvm.service.VcpuNotFoundException;
import io.quarkvm.service.VmNotFoundException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.stream.Collectors;

/** Every failure the API reports, as application/problem+json; one place decides each status code. */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);
    /** RFC 9110 §15.5.21; jakarta.ws.rs.core.Response.Status has no constant for it. */
    private static final int UNPROCESSABLE_CONTENT = 422;
    /** A restarted embedded server is back within a few seconds (README.md, "When the database goes away"). */
    private static final int DATABASE_RETRY_AFTER_SECONDS = 5;

    @ServerExceptionMapper
    public Response invalid(InvalidSpecificationException e) {
        return Problem.response(UNPROCESSABLE_CONTENT, "invalid-value", "Invalid value", e.getMessage(), e.field());
    }

    @ServerExceptionMapper
    public Response conflict(ConflictException e) {
        return Problem.response(409, "conflict", "Conflict", e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response vmNotFound(VmNotFoundException e) {
        return Problem.response(404, "not-found", "Not found", e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response vcpuNotFound(VcpuNotFoundException e) {
        return Problem.response(404, "not-found", "Not found", e.getMessage(), "apicId");
    }

    @ServerExceptionMapper
    public Response stale(StaleVersionException e) {
        return Problem.response(412, "stale-version", "Precondition failed",
                e.getMessage(), "If-Match");
    }

    @ServerExceptionMapper
    public Response badRequest(BadRequestException e) {
        return Problem.response(400, "bad-request", "Bad request", e.getMessage(), e.field());
    }

    @ServerExceptionMapper
    public Response unrecognizedField(UnrecognizedPropertyException e) {
        return Problem.response(400, "unknown-field", "Unknown field",
                "unknown field '" + e.getPropertyName() + "'", path(e));
    }

    /** Declared for the subtype too, or Quarkus's own mapper (an empty 400) would win for a wrong value type. */
    @ServerExceptionMapper
    public Response mismatchedJson(MismatchedInputException e) {
        return unreadableJson(e);
    }

    @ServerExceptionMapper
    public Response unreadableJson(JsonMappingException e) {
        return Problem.response(400, "malformed-json", "Malformed JSON",
                e.getOriginalMessage(), path(e));
    }

    @ServerExceptionMapper
    public Response malformedJson(JsonProcessingException e) {
        return Problem.response(400, "malformed-json", "Malformed JSON",
                e.getOriginalMessage(), null);
    }

    /** No token: the API's permissions (application.properties) are checked once JAX-RS has chosen the endpoint. */
    @ServerExceptionMapper
    public Response unauthorized(UnauthorizedException e) {
        return unauthorized(BearerTokenMechanism.CHALLENGE, "send 'Authorization: Bearer <token>' (README.md, \"Authentication\")");
    }

    /** A token that is none of ours: which part of it was wrong is not said. */
    @ServerExceptionMapper
    public Response invalidToken(AuthenticationFailedException e) {
        return unauthorized(BearerTokenMechanism.INVALID_TOKEN_CHALLENGE, "the bearer token is not valid");
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException e) {
        return Problem.response(403, "forbidden", "Forbidden", "this token's role may not do this: reads need "
                + "viewer or operator, everything else operator", null);
    }

    private static Response unauthorized(String challenge, String detail) {
        return Response.fromResponse(Problem.response(401, "unauthorized", "Unauthorized", detail, null))
                .header(HttpHeaders.WWW_AUTHENTICATE, challenge).build();
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundException e) {
        return Problem.response(404, "not-found", "Not found", e.getMessage(), null);
    }

    /** The JSON reader wraps what Jackson said in a plain 400; unwrap it so the client learns what was wrong. */
    @ServerExceptionMapper
    public Response http(WebApplicationException e) {
        if (e.getCause() instanceof JsonMappingException mapping) {
            return unreadableJson(mapping);
        }
        if (e.getCause() instanceof JsonProcessingException parsing) {
            return malformedJson(parsing);
        }
        int status = e.getResponse().getStatus();
        Response.StatusType reason = Response.Status.fromStatusCode(status);
        return Problem.response(status, "http-" + status, reason == null ? "HTTP " + status : reason.getReasonPhrase(),
                e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        if (DatabaseUnavailable.causedBy(e)) {
            return databaseUnavailable(e);
        }
        LOG.error("unexpected failure", e);
        return Problem.response(500, "internal", "Internal error",
                e.getClass().getSimpleName() + ": " + e.getMessage(), null);
    }

    /**
     * The database is down or restarting: nothing that failed so was acknowledged, and the client may ask again. The
     * detail stays general; where the database is and what was sent to it is for the log.
     */
    private static Response databaseUnavailable(RuntimeException e) {
        LOG.warnf("answered 503, the database is unavailable: %s", e.getMessage());
        return Response.fromResponse(Problem.response(503, "database-unavailable", "Service unavailable",
                        "the database cannot be reached for now; ask again later (a change cut off by the outage may or "
                                + "may not have been recorded: read it back before repeating it)",
                        null))
                .header(HttpHeaders.RETRY_AFTER, DATABASE_RETRY_AFTER_SECONDS).build();
    }

    private static String path(JsonMappingException e) {
        if (e.getPath().isEmpty()) {
            return null;
        }
        return e.getPath().stream()
                .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
    }
}

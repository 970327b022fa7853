package io.quarkvm.api;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamReadException;
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
import io.quarkvm.service.MigrationNotFoundException;
import io.quarkvm.service.StaleVersionException;
import io.quarkvm.service.VcpuNotFoundException;
import io.quarkvm.service.VmNotFoundException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Request;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.Collection;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * Every failure the API reports, as application/problem+json; one place decides each status code and each text.
 * A detail says what the client can act on; what the server knows beyond that (exception classes, SQL, the
 * database's address) goes to the log only.
 */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);
    /** RFC 9110 §15.5.21; jakarta.ws.rs.core.Response.Status has no constant for it. */
    private static final int UNPROCESSABLE_CONTENT = 422;
    /** A restarted embedded server is back within a few seconds (README.md, "When the database goes away"). */
    private static final int DATABASE_RETRY_AFTER_SECONDS = 5;

    private final AllowedMethods allowedMethods;

    ProblemMappers(AllowedMethods allowedMethods) {
        this.allowedMethods = allowedMethods;
    }

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
    public Response migrationNotFound(MigrationNotFoundException e) {
        return Problem.response(404, "not-found", "Not found", e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response vcpuNotFound(VcpuNotFoundException e) {
        return Problem.response(404, "not-found", "Not found", e.getMessage(), "apicId");
    }

    @ServerExceptionMapper
    public Response stale(StaleVersionException e) {
        return Problem.response(412, "stale-version", "Precondition failed", e.getMessage(), "If-Match");
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
        String field = path(e);
        String detail = field == null
                ? "the body must be " + jsonKind(e.getTargetType())
                : field + " must be " + jsonKind(e.getTargetType());
        return Problem.response(400, "malformed-json", "Malformed JSON", detail, field);
    }

    @ServerExceptionMapper
    public Response unreadableJson(JsonMappingException e) {
        if (e instanceof MismatchedInputException mismatch) {
            return mismatchedJson(mismatch);
        }
        String field = path(e);
        String detail = field == null
                ? "the body cannot be read as this resource's JSON"
                : "the value of " + field + " cannot be read";
        return Problem.response(400, "malformed-json", "Malformed JSON", detail, field);
    }

    /** Jackson's own text names its classes and features; the position is what helps the client. */
    @ServerExceptionMapper
    public Response malformedJson(JsonProcessingException e) {
        if (e instanceof JsonMappingException mapping) {
            return unreadableJson(mapping);
        }
        if (!(e instanceof StreamReadException)) {
            return unexpected(e);
        }
        JsonLocation at = e.getLocation();
        String where = at == null || at.getLineNr() < 1
                ? ""
                : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
        return Problem.response(400, "malformed-json", "Malformed JSON", "the body is not well-formed JSON" + where,
                null);
    }

    /** No token: the API's permissions (application.properties) are checked once JAX-RS has chosen the endpoint. */
    @ServerExceptionMapper
    public Response unauthorized(UnauthorizedException e) {
        return withChallenge(BearerTokenMechanism.CHALLENGE, missingToken());
    }

    /** A token that is none of ours: which part of it was wrong is not said. */
    @ServerExceptionMapper
    public Response invalidToken(AuthenticationFailedException e) {
        return withChallenge(BearerTokenMechanism.INVALID_TOKEN_CHALLENGE, invalidToken());
    }

    @ServerExceptionMapper
    public Response forbidden(ForbiddenException e) {
        return forbidden().response();
    }

    static Problem missingToken() {
        return Problem.of(401, "unauthorized", "Unauthorized",
                "send 'Authorization: Bearer <token>' (README.md, \"Authentication\")", null);
    }

    static Problem invalidToken() {
        return Problem.of(401, "unauthorized", "Unauthorized", "the bearer token is not valid", null);
    }

    static Problem forbidden() {
        return Problem.of(403, "forbidden", "Forbidden", "this token's role may not do this: reads need "
                + "viewer or operator, everything else operator", null);
    }

    private static Response withChallenge(String challenge, Problem problem) {
        return Response.fromResponse(problem.response()).header(HttpHeaders.WWW_AUTHENTICATE, challenge).build();
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundException e, UriInfo uri) {
        return noResource(uri.getPath()).response();
    }

    @ServerExceptionMapper
    public Response notAllowed(NotAllowedException e, Request request, UriInfo uri) {
        String allowed = allowedMethods.at(uri.getPath());
        return Response.fromResponse(methodNotAllowed(request.getMethod(), uri.getPath(), allowed).response())
                .header(HttpHeaders.ALLOW, allowed).build();
    }

    /** The JSON reader wraps what Jackson said in a plain 400; unwrap it so the client learns what was wrong. */
    @ServerExceptionMapper
    public Response http(WebApplicationException e) {
        if (e.getCause() instanceof JsonProcessingException json) {
            return malformedJson(json);
        }
        return ofStatus(e.getResponse().getStatus()).response();
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e) {
        if (DatabaseUnavailable.causedBy(e)) {
            return databaseUnavailable(e);
        }
        return unexpectedFailure(e).response();
    }

    /**
     * The database is down or restarting: nothing that failed so was acknowledged, and the client may ask again. The
     * detail stays general; where the database is and what was sent to it is for the log.
     */
    private static Response databaseUnavailable(Throwable e) {
        LOG.warnf("answered 503, the database is unavailable: %s", e.getMessage());
        return Response.fromResponse(Problem.response(503, "database-unavailable", "Service unavailable",
                        "the database cannot be reached for now; ask again later (a change cut off by the outage may or "
                                + "may not have been recorded: read it back before repeating it)",
                        null))
                .header(HttpHeaders.RETRY_AFTER, DATABASE_RETRY_AFTER_SECONDS).build();
    }

    /** A failure the server did not foresee: logged in full under an id, which is all the client is told. */
    static Problem unexpectedFailure(Throwable e) {
        String occurrence = "urn:uuid:" + UUID.randomUUID();
        LOG.errorf(e, "unexpected failure, answered 500 as %s", occurrence);
        return Problem.of(500, "internal", "Internal error",
                "the server failed to answer this request; its log has the details under " + occurrence, null)
                .at(occurrence);
    }

    static Problem noResource(String path) {
        return Problem.of(404, "not-found", "Not found", "there is no resource at " + path, null);
    }

    private static Problem methodNotAllowed(String method, String path, String allowed) {
        return Problem.of(405, "method-not-allowed", "Method not allowed",
                path + " does not answer " + method + "; it answers " + allowed, null);
    }

    /** A status the HTTP layer chose (415 for a body that is not JSON, say), with a detail for the common ones. */
    static Problem ofStatus(int status) {
        Response.StatusType reason = Response.Status.fromStatusCode(status);
        String title = reason == null ? "HTTP " + status : reason.getReasonPhrase();
        String detail = switch (status) {
            case 406 -> "none of the media types the Accept header names is one this resource answers with";
            case 415 -> "this resource reads a body of another media type (application/json)";
            default -> title;
        };
        return Problem.of(status, "http-" + status, title, detail, null);
    }

    /** What a JSON client sees as the expected kind of value, rather than the Java type behind it. */
    private static String jsonKind(Class<?> type) {
        if (type == null) {
            return "a value of another kind";
        }
        if (type == Long.class || type == long.class || type == Integer.class || type == int.class) {
            return "an integer";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (type == String.class || type.isEnum()) {
            return "a string";
        }
        if (Number.class.isAssignableFrom(type) || type.isPrimitive()) {
            return "a number";
        }
        if (type.isArray() || Collection.class.isAssignableFrom(type)) {
            return "an array";
        }
        return "a JSON object";
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

package io.quarkvm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.quarkvm.domain.ConflictException;
import io.quarkvm.domain.InvalidSpecificationException;
import io.quarkvm.service.StaleVersionException;
import io.quarkvm.service.VcpuNotFoundException;
import io.quarkvm.service.VmNotFoundException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.stream.Collectors;

/** Every failure the API reports, as application/problem+json; one place decides each status code. */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @ServerExceptionMapper
    public Response invalid(InvalidSpecificationException e) {
        return Problem.response(Response.Status.fromStatusCode(422), "invalid-value", "Invalid value", e.getMessage(), e.field());
    }

    @ServerExceptionMapper
    public Response conflict(ConflictException e) {
        return Problem.response(Response.Status.CONFLICT, "conflict", "Conflict", e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response vmNotFound(VmNotFoundException e) {
        return Problem.response(Response.Status.NOT_FOUND, "not-found", "Not found", e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response vcpuNotFound(VcpuNotFoundException e) {
        return Problem.response(Response.Status.NOT_FOUND, "not-found", "Not found", e.getMessage(), "apicId");
    }

    @ServerExceptionMapper
    public Response stale(StaleVersionException e) {
        return Problem.response(Response.Status.PRECONDITION_FAILED, "stale-version", "Precondition failed",
                e.getMessage(), "If-Match");
    }

    @ServerExceptionMapper
    public Response badRequest(BadRequestException e) {
        return Problem.response(Response.Status.BAD_REQUEST, "bad-request", "Bad request", e.getMessage(), e.field());
    }

    @ServerExceptionMapper
    public Response unrecognizedField(UnrecognizedPropertyException e) {
        return Problem.response(Response.Status.BAD_REQUEST, "unknown-field", "Unknown field",
                "unknown field '" + e.getPropertyName() + "'", path(e));
    }

    @ServerExceptionMapper
    public Response unreadableJson(JsonMappingException e) {
        return Problem.response(Response.Status.BAD_REQUEST, "malformed-json", "Malformed JSON",
                e.getOriginalMessage(), path(e));
    }

    @ServerExceptionMapper
    public Response malformedJson(JsonProcessingException e) {
        return Problem.response(Response.Status.BAD_REQUEST, "malformed-json", "Malformed JSON",
                e.getOriginalMessage(), null);
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundException e) {
        return Problem.response(Response.Status.NOT_FOUND, "not-found", "Not found", e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response http(WebApplicationException e) {
        Response.Status status = Response.Status.fromStatusCode(e.getResponse().getStatus());
        if (status == null) {
            status = Response.Status.INTERNAL_SERVER_ERROR;
        }
        return Problem.response(status, "http-" + status.getStatusCode(), status.getReasonPhrase(), e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response unexpected(RuntimeException e) {
        LOG.error("unexpected failure", e);
        return Problem.response(Response.Status.INTERNAL_SERVER_ERROR, "internal", "Internal error",
                e.getClass().getSimpleName() + ": " + e.getMessage(), null);
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

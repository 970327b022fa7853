package io.quarkvm.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/**
 * An RFC 9457 problem; {@code field} names the offending input where there is one, {@code instance} names this
 * occurrence where the server logged more about it. Nothing in it is internal: no class, SQL, host or port.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@Schema(name = "Problem", description = "What went wrong, as RFC 9457 application/problem+json")
public record Problem(
        @Schema(description = "Identifies the kind of problem", example = "https://quarkvm.io/problems/invalid-value")
        String type,
        @Schema(description = "Short summary of the kind of problem", example = "Invalid value")
        String title,
        @Schema(description = "The HTTP status code", example = "422")
        int status,
        @Schema(description = "What was wrong with this request, for a human")
        String detail,
        @Schema(description = "The offending input: a JSON path into the body, a query parameter or a header",
                example = "topology.sockets")
        String field,
        @Schema(description = "This occurrence, as the server's log names it", example = "urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        String instance) {

    public static final String MEDIA_TYPE = "application/problem+json";
    private static final String TYPE_BASE = "https://quarkvm.io/problems/";

    public static Problem of(int status, String typeSlug, String title, String detail, String field) {
        return new Problem(TYPE_BASE + typeSlug, title, status, detail, field, null);
    }

    public Problem at(String occurrence) {
        return new Problem(type, title, status, detail, field, occurrence);
    }

    public Response response() {
        return Response.status(status).type(MediaType.valueOf(MEDIA_TYPE)).entity(this).build();
    }

    public static Response response(int status, String typeSlug, String title, String detail, String field) {
        return of(status, typeSlug, title, detail, field).response();
    }
}

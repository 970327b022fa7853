package io.quarkvm.api;

import io.quarkvm.domain.Migration;
import io.quarkvm.domain.VmSpecification;
import io.quarkvm.service.MigrationNotFoundException;
import io.quarkvm.service.MigrationService;
import jakarta.inject.Inject;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * Live migrations by their own id; they are requested and listed under their VM ({@link VmResource}). HTTP only:
 * the rules live in the domain and the service.
 */
@Path("/api/v1/migrations")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = ApiDocumentation.MIGRATIONS)
public class MigrationResource {

    /** What POST /api/v1/vms/{id}/migrations takes; a count arrives as Long so an absurd one is reported as such. */
    public record MigrationRequest(
            @Schema(description = "The node to move the VM to (GET /api/v1/nodes)", example = "node-b")
            String targetNode,
            @Schema(description = "The longest pause of the VM to aim for at the handover, in ms", minimum = "1",
                    maximum = "60000", defaultValue = "50")
            Long downtimeLimitMs) {
    }

    public record MigrationsView(List<Migration> items) {
    }

    @Inject
    MigrationService migrations;

    @GET
    @Path("{id}")
    @Operation(operationId = "getMigration", summary = "Read a migration",
            description = "Its phase (SETUP, PRECOPY, STOP_AND_COPY, then COMPLETED, FAILED or CANCELLED), the pre-copy "
                    + "rounds, bytes sent and dirty rate, and once it has ended its downtime, total time and error. With "
                    + "?wait= the answer comes once the migration has ended or the wait is over.")
    @APIResponse(responseCode = "200", description = "The migration",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Migration.class)))
    @APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "422", ref = ApiDocumentation.UNPROCESSABLE_CONTENT)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Migration get(@PathParam("id") String id,
                         @Parameter(description = "How long to wait for the migration to end, in seconds (\"30\" or "
                                 + "\"30s\", at most 300); without it the answer comes at once",
                                 schema = @Schema(type = SchemaType.STRING, pattern = "^[0-9]+(\\.[0-9]+)?s?$", example = "30"))
                         @QueryParam("wait") String wait) {
        Duration waitFor = VmResource.waitDuration(wait);
        return migrations.get(migrationId(id), waitFor);
    }

    @DELETE
    @Path("{id}")
    @Operation(operationId = "cancelMigration", summary = "Cancel a migration",
            description = "Cancels a migration in SETUP or PRECOPY: the VM keeps running on its source. Once the source "
                    + "has paused the VM for the handover (STOP_AND_COPY), or the migration has ended, it is a conflict.")
    @APIResponse(responseCode = "200", description = "Cancelled: the migration, now CANCELLED",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Migration.class)))
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "409", ref = ApiDocumentation.CONFLICT)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Migration cancel(@PathParam("id") String id) {
        return migrations.cancel(migrationId(id));
    }

    /** A migration id that is not written like one (8-4-4-4-12 hexadecimal digits) names no migration. */
    static UUID migrationId(String id) {
        if (!VmSpecification.hasIdForm(id)) {
            throw new MigrationNotFoundException(id);
        }
        return UUID.fromString(id);
    }
}

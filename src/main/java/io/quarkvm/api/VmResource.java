package io.quarkvm.api;

import io.quarkvm.api.MigrationResource.MigrationRequest;
import io.quarkvm.api.MigrationResource.MigrationsView;
import io.quarkvm.api.VmDtos.CreateVmRequest;
import io.quarkvm.api.VmDtos.SlotRequest;
import io.quarkvm.api.VmDtos.VmPageView;
import io.quarkvm.api.VmDtos.VmView;
import io.quarkvm.domain.InvalidSpecificationException;
import io.quarkvm.domain.Migration;
import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VmAction;
import io.quarkvm.domain.VmSpecification;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.service.GuestIdentityQuery;
import io.quarkvm.service.GuestIdentityQuery.GuestIdentityView;
import io.quarkvm.service.LifecycleOutcome;
import io.quarkvm.service.MigrationService;
import io.quarkvm.service.VmLifecycleService;
import io.quarkvm.service.VmNotFoundException;
import io.quarkvm.service.VmPage;
import io.quarkvm.service.VmService;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import jakarta.ws.rs.core.Context;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.time.Duration;
import java.util.UUID;

/** HTTP only: status codes, Location and ETag; every rule lives in the domain and the service. */
@Path("/api/v1/vms")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
@Tag(name = ApiDocumentation.VMS)
public class VmResource {

    private static final Duration MAX_WAIT = Duration.ofMinutes(5);

    @Inject
    VmService vms;

    @Inject
    VmLifecycleService lifecycle;

    @Inject
    GuestIdentityQuery guestIdentities;

    @Inject
    MigrationService migrations;

    @POST
    @Operation(operationId = "createVm", summary = "Create a VM",
            description = "Creates a stopped VM and gives each boot vCPU its identity (cpu_index, APIC ID, VP index), "
                    + "which never changes from then on.")
    @APIResponse(responseCode = "201", description = "Created; Location names the new VM",
            headers = {@Header(name = "Location", description = "The new VM's URL", schema = @Schema(type = SchemaType.STRING, format = "uri")),
                    @Header(name = "ETag", ref = ApiDocumentation.ETAG)},
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = VmView.class)))
    @APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
    @APIResponse(responseCode = "409", ref = ApiDocumentation.CONFLICT)
    @APIResponse(responseCode = "413", ref = ApiDocumentation.PAYLOAD_TOO_LARGE)
    @APIResponse(responseCode = "415", ref = ApiDocumentation.UNSUPPORTED_MEDIA_TYPE)
    @APIResponse(responseCode = "422", ref = ApiDocumentation.UNPROCESSABLE_CONTENT)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Response create(@RequestBody(required = true) CreateVmRequest request, @Context UriInfo uri) {
        if (request == null) {
            throw new BadRequestException(null, "a JSON body describing the VM is required");
        }
        var topology = request.topology();
        if (topology == null) {
            throw new InvalidSpecificationException("topology", "topology is required");
        }
        VmSpecification spec = VmSpecification.of(request.name(), request.machineType(), topology.sockets(),
                topology.dies(), topology.cores(), topology.threads(), request.vcpus(), request.memoryMiB(),
                request.hyperv() == null ? null : request.hyperv().vpindex(),
                request.guest() == null ? null : request.guest().kind());
        VmEntity vm = vms.create(spec);
        return Response.created(uri.getAbsolutePathBuilder().path(vm.id.toString()).build())
                .tag(VersionHeaders.etag(vm.version))
                .entity(VmView.of(vm))
                .build();
    }

    @GET
    @Operation(operationId = "listVms", summary = "List VMs",
            description = "One page of the VMs, in the order they were created.")
    @APIResponse(responseCode = "200", description = "The page",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = VmPageView.class)))
    @APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
    @APIResponse(responseCode = "422", ref = ApiDocumentation.UNPROCESSABLE_CONTENT)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public VmPageView list(
            @Parameter(description = "The page, from 0", schema = @Schema(type = SchemaType.INTEGER, minimum = "0", defaultValue = "0"))
            @QueryParam("page") String page,
            @Parameter(description = "VMs per page", schema = @Schema(type = SchemaType.INTEGER, minimum = "1",
                    maximum = "" + VmPage.MAX_SIZE, defaultValue = "" + VmPage.DEFAULT_SIZE))
            @QueryParam("size") String size) {
        VmPage result = vms.list(intParameter("page", page, 0), intParameter("size", size, VmPage.DEFAULT_SIZE));
        return new VmPageView(result.items().stream().map(VmView::of).toList(), result.total(), result.page(),
                result.size());
    }

    @GET
    @Path("{id}")
    @Operation(operationId = "getVm", summary = "Read a VM",
            description = "The VM with its vCPUs' identities, desired state and observed phase; its ETag is its version.")
    @APIResponse(responseCode = "200", description = "The VM", headers = @Header(name = "ETag", ref = ApiDocumentation.ETAG),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = VmView.class)))
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Response get(@PathParam("id") String id) {
        return withEtag(vms.get(vmId(id)));
    }

    @DELETE
    @Path("{id}")
    @Operation(operationId = "deleteVm", summary = "Delete a VM",
            description = "Deletes a VM that is stopped (or crashed) and meant to stay stopped.")
    @APIResponse(responseCode = "204", description = "Deleted")
    @APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "409", ref = ApiDocumentation.CONFLICT)
    @APIResponse(responseCode = "412", ref = ApiDocumentation.PRECONDITION_FAILED)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Response delete(@PathParam("id") String id, @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        vms.delete(vmId(id), VersionHeaders.expected(ifMatch));
        return Response.noContent().build();
    }

    @POST
    @Path("{id}/vcpus")
    @Operation(operationId = "plugVcpu", summary = "Hot-plug a vCPU",
            description = "Plugs the vCPU of a topology slot. A slot plugged before gets its identity back; a new one "
                    + "takes the next cpu_index. A running VM gets the vCPU at once.")
    @APIResponse(responseCode = "200", description = "The VM with the vCPU plugged",
            headers = @Header(name = "ETag", ref = ApiDocumentation.ETAG),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = VmView.class)))
    @APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "409", ref = ApiDocumentation.CONFLICT)
    @APIResponse(responseCode = "412", ref = ApiDocumentation.PRECONDITION_FAILED)
    @APIResponse(responseCode = "413", ref = ApiDocumentation.PAYLOAD_TOO_LARGE)
    @APIResponse(responseCode = "415", ref = ApiDocumentation.UNSUPPORTED_MEDIA_TYPE)
    @APIResponse(responseCode = "422", ref = ApiDocumentation.UNPROCESSABLE_CONTENT)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Response plug(@PathParam("id") String id, @RequestBody(required = true) SlotRequest slot,
                         @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        if (slot == null) {
            throw new BadRequestException(null, "a JSON body naming the slot {socket, die, core, thread} is required");
        }
        return withEtag(vms.plug(vmId(id), slot(slot), VersionHeaders.expected(ifMatch)));
    }

    @DELETE
    @Path("{id}/vcpus/{apicId}")
    @Operation(operationId = "unplugVcpu", summary = "Unplug a vCPU",
            description = "Unplugs the vCPU with this APIC ID; its identity stays reserved for a replug of its slot. "
                    + "Unplugging one that is already unplugged changes nothing.")
    @APIResponse(responseCode = "200", description = "The VM with the vCPU unplugged",
            headers = @Header(name = "ETag", ref = ApiDocumentation.ETAG),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = VmView.class)))
    @APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "409", ref = ApiDocumentation.CONFLICT)
    @APIResponse(responseCode = "412", ref = ApiDocumentation.PRECONDITION_FAILED)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Response unplug(@PathParam("id") String id,
                           @Parameter(description = "The vCPU's APIC ID", schema = @Schema(type = SchemaType.INTEGER, minimum = "0"))
                           @PathParam("apicId") String apicId,
                           @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        return withEtag(vms.unplug(vmId(id), intParameter("apicId", apicId, 0), VersionHeaders.expected(ifMatch)));
    }

    @POST
    @Path("{id}/start")
    @Consumes(MediaType.WILDCARD)
    @Operation(operationId = "startVm", summary = "Start a VM",
            description = "Asks for the VM to run: its node starts it with the vCPU identities the database holds. "
                    + "Starting a paused VM is a conflict (resume it).")
    @StateChangeResponses
    public Response start(@PathParam("id") String id,
                          @Parameter(ref = ApiDocumentation.WAIT) @QueryParam("wait") String wait,
                          @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        return changeState(id, VmAction.START, wait, ifMatch);
    }

    @POST
    @Path("{id}/stop")
    @Consumes(MediaType.WILDCARD)
    @Operation(operationId = "stopVm", summary = "Stop a VM",
            description = "Asks for the VM to stop, whether it runs, is paused or crashed.")
    @StateChangeResponses
    public Response stop(@PathParam("id") String id,
                         @Parameter(ref = ApiDocumentation.WAIT) @QueryParam("wait") String wait,
                         @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        return changeState(id, VmAction.STOP, wait, ifMatch);
    }

    @POST
    @Path("{id}/pause")
    @Consumes(MediaType.WILDCARD)
    @Operation(operationId = "pauseVm", summary = "Pause a VM",
            description = "Asks for a running VM's vCPUs to be held; pausing a stopped VM is a conflict.")
    @StateChangeResponses
    public Response pause(@PathParam("id") String id,
                          @Parameter(ref = ApiDocumentation.WAIT) @QueryParam("wait") String wait,
                          @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        return changeState(id, VmAction.PAUSE, wait, ifMatch);
    }

    @POST
    @Path("{id}/resume")
    @Consumes(MediaType.WILDCARD)
    @Operation(operationId = "resumeVm", summary = "Resume a VM",
            description = "Asks for a paused VM's vCPUs to run again.")
    @StateChangeResponses
    public Response resume(@PathParam("id") String id,
                           @Parameter(ref = ApiDocumentation.WAIT) @QueryParam("wait") String wait,
                           @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        return changeState(id, VmAction.RESUME, wait, ifMatch);
    }

    @GET
    @Path("{id}/guest-identity")
    @Operation(operationId = "getGuestIdentity", summary = "What the guest saw",
            description = "Per boot, what each vCPU's guest read of its own identity (APIC ID, VP index), next to the "
                    + "identity the database holds.")
    @APIResponse(responseCode = "200", description = "The boots, oldest first",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = GuestIdentityView.class)))
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public GuestIdentityView guestIdentity(@PathParam("id") String id) {
        return guestIdentities.of(vmId(id));
    }

    @POST
    @Path("{id}/migrations")
    @Tag(name = ApiDocumentation.MIGRATIONS)
    @Operation(operationId = "migrateVm", summary = "Live-migrate a VM",
            description = "Asks for the running VM to move to another node while it runs. Everything that would refuse "
                    + "it is checked first: the VM must be RUNNING with no other migration under way, and the target a "
                    + "live node other than its own that can run VMs, offers at least the VM's memory and vCPU slots, "
                    + "and can honour its VP index policy. The VM is then MIGRATING_OUT until the migration ends.")
    @APIResponse(responseCode = "202", description = "Recorded, in SETUP; Location names the migration",
            headers = @Header(name = "Location", description = "The migration's URL",
                    schema = @Schema(type = SchemaType.STRING, format = "uri")),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Migration.class)))
    @APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "409", ref = ApiDocumentation.CONFLICT)
    @APIResponse(responseCode = "413", ref = ApiDocumentation.PAYLOAD_TOO_LARGE)
    @APIResponse(responseCode = "415", ref = ApiDocumentation.UNSUPPORTED_MEDIA_TYPE)
    @APIResponse(responseCode = "422", ref = ApiDocumentation.UNPROCESSABLE_CONTENT)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public Response migrate(@PathParam("id") String id, @RequestBody(required = true) MigrationRequest request,
                            @Context UriInfo uri) {
        if (request == null) {
            throw new BadRequestException(null, "a JSON body naming the targetNode is required");
        }
        Migration migration = migrations.create(vmId(id), request.targetNode(), request.downtimeLimitMs());
        return Response.accepted(migration)
                .location(uri.getBaseUriBuilder().path(MigrationResource.class).path(migration.id().toString()).build())
                .build();
    }

    @GET
    @Path("{id}/migrations")
    @Tag(name = ApiDocumentation.MIGRATIONS)
    @Operation(operationId = "listVmMigrations", summary = "List a VM's migrations",
            description = "Every live migration of the VM, newest first.")
    @APIResponse(responseCode = "200", description = "The migrations, newest first",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = MigrationsView.class)))
    @APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public MigrationsView migrations(@PathParam("id") String id) {
        return new MigrationsView(migrations.ofVm(vmId(id)));
    }

    /** 200 when the VM is what was asked (now or within ?wait= seconds), 202 when its node is still on it. */
    private Response changeState(String id, VmAction action, String wait, String ifMatch) {
        LifecycleOutcome outcome = lifecycle.request(vmId(id), action, VersionHeaders.expected(ifMatch), waitDuration(wait));
        return Response.status(outcome.settled() ? Response.Status.OK : Response.Status.ACCEPTED)
                .entity(VmView.of(outcome.vm())).tag(VersionHeaders.etag(outcome.vm().version)).build();
    }

    /** "?wait=30" or "?wait=30s": how long a state request may wait for the VM to get there (at most 5 min). */
    static Duration waitDuration(String wait) {
        if (wait == null || wait.isBlank()) {
            return Duration.ZERO;
        }
        String seconds = wait.trim().endsWith("s") ? wait.trim().substring(0, wait.trim().length() - 1) : wait.trim();
        try {
            double value = Double.parseDouble(seconds);
            if (value < 0 || value > MAX_WAIT.toSeconds() || Double.isNaN(value)) {
                throw new InvalidSpecificationException("wait", "wait must be between 0 and " + MAX_WAIT.toSeconds()
                        + " seconds, was " + wait);
            }
            return Duration.ofMillis((long) (value * 1000));
        } catch (NumberFormatException e) {
            throw new BadRequestException("wait", "wait must be a number of seconds like 30 or 30s, was '" + wait + "'");
        }
    }

    private static Response withEtag(VmEntity vm) {
        return Response.ok(VmView.of(vm)).tag(VersionHeaders.etag(vm.version)).build();
    }

    /** A slot coordinate too large for an int lies outside every topology, so it is reported as such (422). */
    private static Slot slot(SlotRequest request) {
        return new Slot(coordinate("socket", request.socket(), null), coordinate("die", request.die(), 0L),
                coordinate("core", request.core(), null), coordinate("thread", request.thread(), null));
    }

    private static int coordinate(String field, Long value, Long fallback) {
        Long coordinate = value == null ? fallback : value;
        if (coordinate == null) {
            throw new InvalidSpecificationException(field, field + " is required");
        }
        if (coordinate < 0 || coordinate > Integer.MAX_VALUE) {
            throw new InvalidSpecificationException(field, field + " " + coordinate + " lies outside every topology");
        }
        return coordinate.intValue();
    }

    /** A VM id that is not written like one (8-4-4-4-12 hexadecimal digits) names no VM. */
    static UUID vmId(String id) {
        if (!VmSpecification.hasIdForm(id)) {
            throw new VmNotFoundException(id);
        }
        return UUID.fromString(id);
    }

    private static int intParameter(String name, String value, int fallback) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new BadRequestException(name, name + " must be an integer, was '" + value + "'");
        }
    }
}

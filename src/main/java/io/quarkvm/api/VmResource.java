package io.quarkvm.api;

import io.quarkvm.api.VmDtos.CreateVmRequest;
import io.quarkvm.api.VmDtos.SlotRequest;
import io.quarkvm.api.VmDtos.VmPageView;
import io.quarkvm.api.VmDtos.VmView;
import io.quarkvm.domain.InvalidSpecificationException;
import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VmSpecification;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.service.GuestIdentityQuery;
import io.quarkvm.service.GuestIdentityQuery.GuestIdentityView;
import io.quarkvm.domain.VmAction;
import io.quarkvm.service.LifecycleOutcome;
import io.quarkvm.service.VmLifecycleService;
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

import java.time.Duration;
import java.util.UUID;

/** HTTP only: status codes, Location and ETag; every rule lives in the domain and the service. */
@Path("/api/v1/vms")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public class VmResource {

    private static final Duration MAX_WAIT = Duration.ofMinutes(5);

    @Inject
    VmService vms;

    @Inject
    VmLifecycleService lifecycle;

    @Inject
    GuestIdentityQuery guestIdentities;

    @POST
    public Response create(CreateVmRequest request, @Context UriInfo uri) {
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
    public VmPageView list(@QueryParam("page") String page, @QueryParam("size") String size) {
        VmPage result = vms.list(intParameter("page", page, 0), intParameter("size", size, VmPage.DEFAULT_SIZE));
        return new VmPageView(result.items().stream().map(VmView::of).toList(), result.total(), result.page(),
                result.size());
    }

    @GET
    @Path("{id}")
    public Response get(@PathParam("id") String id) {
        return withEtag(vms.get(vmId(id)));
    }

    @DELETE
    @Path("{id}")
    public Response delete(@PathParam("id") String id, @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        vms.delete(vmId(id), VersionHeaders.expected(ifMatch));
        return Response.noContent().build();
    }

    @POST
    @Path("{id}/vcpus")
    public Response plug(@PathParam("id") String id, SlotRequest slot,
                         @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        if (slot == null) {
            throw new BadRequestException(null, "a JSON body naming the slot {socket, die, core, thread} is required");
        }
        return withEtag(vms.plug(vmId(id), slot(slot), VersionHeaders.expected(ifMatch)));
    }

    @DELETE
    @Path("{id}/vcpus/{apicId}")
    public Response unplug(@PathParam("id") String id, @PathParam("apicId") String apicId,
                           @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        return withEtag(vms.unplug(vmId(id), intParameter("apicId", apicId, 0), VersionHeaders.expected(ifMatch)));
    }

    /** 200 when the VM is what was asked (now or within ?wait= seconds), 202 when its node is still on it. */
    @POST
    @Path("{id}/{action: start|stop|pause|resume}")
    @Consumes(MediaType.WILDCARD)
    public Response changeState(@PathParam("id") String id, @PathParam("action") String action,
                                @QueryParam("wait") String wait, @HeaderParam(HttpHeaders.IF_MATCH) String ifMatch) {
        LifecycleOutcome outcome = lifecycle.request(vmId(id), VmAction.valueOf(action.toUpperCase(java.util.Locale.ROOT)),
                VersionHeaders.expected(ifMatch), waitDuration(wait));
        return Response.status(outcome.settled() ? Response.Status.OK : Response.Status.ACCEPTED)
                .entity(VmView.of(outcome.vm())).tag(VersionHeaders.etag(outcome.vm().version)).build();
    }

    @GET
    @Path("{id}/guest-identity")
    public GuestIdentityView guestIdentity(@PathParam("id") String id) {
        return guestIdentities.of(vmId(id));
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

    /** A VM id that is not a UUID names no VM. */
    static UUID vmId(String id) {
        try {
            return UUID.fromString(id);
        } catch (IllegalArgumentException e) {
            throw new jakarta.ws.rs.NotFoundException("no VM with id " + id);
        }
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

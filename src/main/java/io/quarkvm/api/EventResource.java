package io.quarkvm.api;

import io.quarkvm.persistence.DatabaseNotifications;
import io.quarkvm.persistence.VmEvent;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestStreamElementType;

/** Server-sent events: every VM change any node commits, as it happens, so clients need not poll. */
@Path("/api/v1/events")
@Tag(name = ApiDocumentation.EVENTS)
public class EventResource {

    @Inject
    DatabaseNotifications notifications;

    /** {@code ?vm=} keeps the events of one VM, named by id or by name. */
    @GET
    @Operation(operationId = "streamEvents", summary = "Stream VM events",
            description = "Server-sent events, one JSON VmEvent each: phase and desired-state changes, vCPU plug and "
                    + "unplug, VMs created and deleted.")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    public Multi<VmEvent> events(@QueryParam("vm") String vm) {
        Multi<VmEvent> all = notifications.events();
        if (vm == null || vm.isBlank()) {
            return all;
        }
        return all.filter(event -> vm.equals(event.vmId().toString()) || vm.equals(event.vmName()));
    }
}

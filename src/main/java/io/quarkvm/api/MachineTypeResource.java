package io.quarkvm.api;

import io.quarkvm.api.VmDtos.MachineTypeView;
import io.quarkvm.api.VmDtos.MachineTypesView;
import io.quarkvm.domain.MachineType;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.Arrays;

@Path("/api/v1/machine-types")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = ApiDocumentation.MACHINE_TYPES)
public class MachineTypeResource {

    @GET
    @Operation(operationId = "listMachineTypes", summary = "List machine types",
            description = "Each machine type and the VP index policy it gives its VMs; latest is an alias.")
    @APIResponse(responseCode = "200", description = "The machine types",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = MachineTypesView.class)))
    public MachineTypesView list() {
        return new MachineTypesView(Arrays.stream(MachineType.values()).map(MachineTypeView::of).toList());
    }
}

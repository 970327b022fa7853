package io.quarkvm.api;

import io.quarkvm.api.VmDtos.MachineTypeView;
import io.quarkvm.api.VmDtos.MachineTypesView;
import io.quarkvm.domain.MachineType;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.Arrays;

@Path("/api/v1/machine-types")
@Produces(MediaType.APPLICATION_JSON)
public class MachineTypeResource {

    @GET
    public MachineTypesView list() {
        return new MachineTypesView(Arrays.stream(MachineType.values()).map(MachineTypeView::of).toList());
    }
}

package io.quarkvm.api;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.domain.NodeCapabilities;
import io.quarkvm.node.NodeDirectory;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.time.Instant;
import java.util.List;
import java.util.Map;

@Path("/api/v1/nodes")
@Produces(MediaType.APPLICATION_JSON)
@Tag(name = ApiDocumentation.NODES)
public class NodeResource {

    /** {@code memoryMiB} and {@code maxVcpus}: what the node offers a VM; null when an older version registered it. */
    public record NodeView(String name, String url, String hypervisor, String provider, NodeCapabilities capabilities, boolean canRunVms,
                           String reason, Integer memoryMiB, Integer maxVcpus, Instant lastHeartbeat, boolean live,
                           long vmCount) {
    }

    public record NodesView(List<NodeView> items) {
    }

    @Inject
    NodeDirectory nodes;

    @GET
    @Operation(operationId = "listNodes", summary = "List nodes",
            description = "Every node sharing the database: its KVM capabilities, VP index provider, whether it can "
                    + "run VMs (and why not), the memory and vCPUs it offers a VM, whether it is alive, and how many VMs it owns.")
    @APIResponse(responseCode = "200", description = "The nodes",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = NodesView.class)))
    @APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
    public NodesView list() {
        return QuarkusTransaction.requiringNew().call(() -> {
            Map<String, Long> vmCounts = nodes.vmCounts();
            return new NodesView(nodes.all().stream().map(node -> new NodeView(node.name, node.url, node.hypervisor, node.provider,
                    nodes.capabilities(node), node.canRunVms, node.reason, node.memoryMib, node.maxVcpus, node.lastHeartbeat, nodes.isLive(node),
                    vmCounts.getOrDefault(node.name, 0L))).toList());
        });
    }
}

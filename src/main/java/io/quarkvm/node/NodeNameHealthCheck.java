package io.quarkvm.node;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/** Not live once another instance holds this node's name: restarting this one is what sorts it out. */
@Liveness
@ApplicationScoped
public class NodeNameHealthCheck implements HealthCheck {

    private final LocalNode node;

    NodeNameHealthCheck(LocalNode node) {
        this.node = node;
    }

    @Override
    public HealthCheckResponse call() {
        var response = HealthCheckResponse.named("node name");
        return node.nameTakenByAnother()
                ? response.down().withData("reason", "node " + node.name() + " is held by another live instance").build()
                : response.up().build();
    }
}

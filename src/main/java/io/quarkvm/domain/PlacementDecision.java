package io.quarkvm.domain;

/** Whether a VM may run on a node, and if so through which VP index provider. */
public sealed interface PlacementDecision {

    record Accepted(VpIndexProvider provider) implements PlacementDecision {
    }

    record Refused(String reason) implements PlacementDecision {
    }
}

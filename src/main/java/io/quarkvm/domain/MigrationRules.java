package io.quarkvm.domain;

import java.util.Optional;
import java.util.UUID;

/**
 * Whether a VM may be live-migrated to a node, decided before anything happens (docs/MIGRATION.md). A refusal is a
 * {@link ConflictException} (409) when the state of the VM or of the nodes forbids it now, and an
 * {@link InvalidSpecificationException} (422, field {@code targetNode} or {@code downtimeLimitMs}) when the request
 * names a target that does not exist or could never run this VM as it is.
 */
public final class MigrationRules {

    public static final int DEFAULT_DOWNTIME_LIMIT_MS = 50;
    public static final int MAX_DOWNTIME_LIMIT_MS = 60_000;

    private MigrationRules() {
    }

    /** The VM as the request finds it; {@code sourceLive} tells whether the node it is placed on is alive. */
    public record Vm(String name, VmPhase phase, DesiredState desiredState, String node, boolean sourceLive,
                     VpIndexPolicy policy, Topology topology, boolean hypervVpIndex, int memoryMiB) {
    }

    /**
     * A registered node as a target. {@code provider} is empty when the node uses one this version does not know;
     * {@code memoryMiB} and {@code maxVcpus} (what the node offers a VM) are null when it does not publish them.
     */
    public record Target(String name, boolean live, boolean canRunVms, String reason, Optional<VpIndexProvider> provider,
                         String providerName, NodeCapabilities capabilities, Integer memoryMiB, Integer maxVcpus) {
    }

    /** A migration of the VM that has not ended yet. */
    public record Unfinished(UUID id, MigrationPhase phase) {
    }

    /** The pause the client accepts at the handover: 1 .. 60000 ms, 50 when not given. */
    public static int downtimeLimitMs(Long requested) {
        if (requested == null) {
            return DEFAULT_DOWNTIME_LIMIT_MS;
        }
        if (requested < 1 || requested > MAX_DOWNTIME_LIMIT_MS) {
            throw new InvalidSpecificationException("downtimeLimitMs", "downtimeLimitMs must be between 1 and "
                    + MAX_DOWNTIME_LIMIT_MS + ", was " + requested);
        }
        return requested.intValue();
    }

    /** The target's name as given: required, and never blank. */
    public static String targetNode(String requested) {
        if (requested == null || requested.isBlank()) {
            throw new InvalidSpecificationException("targetNode", "targetNode is required: the name of the node to "
                    + "move the VM to");
        }
        return requested;
    }

    /**
     * Checks every refusal, the VM's state first, then the target's; returns the provider through which the target
     * will give the guest its VP indexes.
     *
     * @param target the node named {@code targetName}, empty when no node of that name is registered
     */
    public static VpIndexProvider check(Vm vm, Optional<Unfinished> unfinished, String targetName, Optional<Target> target) {
        unfinished.ifPresent(migration -> {
            throw new ConflictException("VM " + vm.name() + " is already being migrated (migration " + migration.id()
                    + " is " + migration.phase() + "); wait until it has ended, or cancel it");
        });
        if (vm.phase() != VmPhase.RUNNING || vm.desiredState() != DesiredState.RUNNING || vm.node() == null) {
            throw new ConflictException("VM " + vm.name() + " is " + vm.phase() + " (desired " + vm.desiredState()
                    + "); only a running VM can be live-migrated");
        }
        if (!vm.sourceLive()) {
            throw new ConflictException("VM " + vm.name() + " is placed on node " + vm.node() + ", which is not live; "
                    + "no node could send it");
        }
        if (vm.node().equals(targetName)) {
            throw new ConflictException("VM " + vm.name() + " already runs on node " + targetName);
        }
        Target node = target.orElseThrow(() -> new InvalidSpecificationException("targetNode",
                "no node named '" + targetName + "' is registered (GET /api/v1/nodes lists them)"));
        if (!node.live()) {
            throw new ConflictException("node " + node.name() + " is not live (it missed its heartbeats)");
        }
        if (!node.canRunVms()) {
            throw new ConflictException("node " + node.name() + " cannot run VMs: " + node.reason());
        }
        if (node.memoryMiB() == null || node.maxVcpus() == null) {
            throw new ConflictException("node " + node.name() + " does not publish the memory and vCPUs it offers "
                    + "(it runs an older quarkvm); upgrade it to migrate VMs to it");
        }
        if (node.maxVcpus() < vm.topology().maxVcpus()) {
            throw cannotRun("the VM has " + vm.topology().maxVcpus() + " vCPU slots but node " + node.name()
                    + " offers at most " + node.maxVcpus() + " vCPUs");
        }
        if (node.memoryMiB() < vm.memoryMiB()) {
            throw cannotRun("the VM needs " + vm.memoryMiB() + " MiB of memory but node " + node.name()
                    + " offers " + node.memoryMiB() + " MiB");
        }
        VpIndexProvider provider = node.provider().orElseThrow(() -> cannotRun("node " + node.name()
                + " uses VP index provider " + node.providerName() + ", which this version does not know"));
        PlacementDecision decision = VpIndexProviders.place(node.capabilities(), provider, vm.policy(), vm.topology(),
                vm.hypervVpIndex());
        if (decision instanceof PlacementDecision.Refused refused) {
            throw cannotRun("node " + node.name() + " (" + provider + ") cannot run the VM: " + refused.reason());
        }
        return ((PlacementDecision.Accepted) decision).provider();
    }

    private static InvalidSpecificationException cannotRun(String reason) {
        return new InvalidSpecificationException("targetNode", reason);
    }
}

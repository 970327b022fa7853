package io.quarkvm.domain;

import java.util.Optional;

/**
 * The one pure function from (node capabilities, VM policy, topology) to a VP index provider or a refusal
 * (ARCHITECTURE.md §1, "How a node can honour it").
 */
public final class VpIndexProviders {

    private static final VpIndexProvider[] STRONGEST_FIRST = {
            VpIndexProvider.KERNEL_SETTABLE, VpIndexProvider.USERSPACE_MSR, VpIndexProvider.KERNEL_IMPLICIT};

    private VpIndexProviders() {
    }

    /**
     * The provider a node uses: the strongest its kernel backs, or the one configuration forces (which must be
     * one the kernel backs, so that two real nodes can be made to differ but never to lie).
     */
    public static VpIndexProvider forNode(NodeCapabilities capabilities, Optional<VpIndexProvider> forced) {
        if (forced.isPresent()) {
            if (!capabilities.supports(forced.get())) {
                throw new InvalidSpecificationException("quarkvm.node.force-provider", "this node's kernel cannot back "
                        + forced.get() + ": " + missingCapability(forced.get()));
            }
            return forced.get();
        }
        for (VpIndexProvider provider : STRONGEST_FIRST) {
            if (capabilities.supports(provider)) {
                return provider;
            }
        }
        return VpIndexProvider.UNSUPPORTED;
    }

    /** Whether a VM with this policy and topology can run on a node with these capabilities and provider. */
    public static PlacementDecision place(NodeCapabilities capabilities, VpIndexProvider provider, VpIndexPolicy policy,
                                          Topology topology, boolean hypervVpIndex) {
        if (topology.maxVcpus() > capabilities.maxVcpus()) {
            return new PlacementDecision.Refused("the VM has " + topology.maxVcpus()
                    + " vCPU slots but this node's KVM_CAP_MAX_VCPUS is " + capabilities.maxVcpus());
        }
        int largestApicId = topology.apicIdOf(topology.slotAt(topology.maxVcpus() - 1));
        if (largestApicId >= capabilities.maxVcpuId()) {
            return new PlacementDecision.Refused("the VM's largest APIC ID is " + largestApicId
                    + " but this node's KVM_CAP_MAX_VCPU_ID is " + capabilities.maxVcpuId());
        }
        if (!hypervVpIndex) {
            return new PlacementDecision.Accepted(provider);
        }
        int largestVpIndex = policy.largestVpIndex(topology);
        return switch (provider) {
            case KERNEL_SETTABLE -> largestVpIndex < capabilities.maxVcpus()
                    ? new PlacementDecision.Accepted(provider)
                    : new PlacementDecision.Refused("VP index " + largestVpIndex + " is not below this node's "
                    + "KVM_CAP_MAX_VCPUS (" + capabilities.maxVcpus() + "), the bound KVM_SET_MSRS enforces");
            case USERSPACE_MSR -> new PlacementDecision.Accepted(provider);
            case KERNEL_IMPLICIT -> !creationOrderCanGive(policy, topology)
                    ? new PlacementDecision.Refused("this node's kernel answers the VP index with the creation order "
                    + "(KVM_CAP_HYPERV without KVM_CAP_HYPERV_VP_INDEX), which cannot give the sparse APIC IDs of "
                    + topology.sockets() + "×" + topology.dies() + "×" + topology.cores() + "×" + topology.threads()
                    + " as VP indexes; use machine type quarkvm-3.0 or a power-of-two topology")
                    : new PlacementDecision.Accepted(provider);
            case UNSUPPORTED -> new PlacementDecision.Refused("the VM wants hyperv.vpindex but this node's kernel "
                    + missingCapability(VpIndexProvider.KERNEL_SETTABLE) + ", "
                    + missingCapability(VpIndexProvider.USERSPACE_MSR) + " and "
                    + missingCapability(VpIndexProvider.KERNEL_IMPLICIT));
        };
    }

    /**
     * Whether a kernel that answers the VP index with the vCPU creation order (KERNEL_IMPLICIT) can give every VP
     * index of this policy: not for sparse APIC IDs, whose holes no vCPU could be created for.
     */
    public static boolean creationOrderCanGive(VpIndexPolicy policy, Topology topology) {
        return policy != VpIndexPolicy.APIC_ID || topology.hasDenseApicIds();
    }

    private static String missingCapability(VpIndexProvider provider) {
        return switch (provider) {
            case KERNEL_SETTABLE -> "lacks KVM_CAP_HYPERV_VP_INDEX";
            case USERSPACE_MSR -> "lacks KVM_CAP_X86_USER_SPACE_MSR with KVM_CAP_X86_MSR_FILTER";
            case KERNEL_IMPLICIT -> "lacks KVM_CAP_HYPERV";
            case UNSUPPORTED -> "backs no VP index at all";
        };
    }
}

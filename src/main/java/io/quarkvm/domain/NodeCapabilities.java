package io.quarkvm.domain;

/**
 * What a node's KVM can do, probed once at start (KVM_GET_API_VERSION and KVM_CHECK_EXTENSION of each capability).
 *
 * @param nrVcpus   KVM_CAP_NR_VCPUS: the recommended vCPU count
 * @param maxVcpus  KVM_CAP_MAX_VCPUS: the most vCPUs a VM may have, and the bound of a host-set VP index
 * @param maxVcpuId KVM_CAP_MAX_VCPU_ID: APIC IDs must be below it
 */
public record NodeCapabilities(int apiVersion, int nrVcpus, int maxVcpus, int maxVcpuId, boolean hyperv,
                               boolean hypervVpIndex, boolean x86UserSpaceMsr, boolean x86MsrFilter) {

    /** A node without a usable /dev/kvm: nothing can run there. */
    public static final NodeCapabilities NONE = new NodeCapabilities(0, 0, 0, 0, false, false, false, false);

    /** The providers this kernel can back, strongest first (ARCHITECTURE.md §1: prefer the kernel's own). */
    public boolean supports(VpIndexProvider provider) {
        return switch (provider) {
            case KERNEL_SETTABLE -> hypervVpIndex;
            case USERSPACE_MSR -> x86UserSpaceMsr && x86MsrFilter;
            case KERNEL_IMPLICIT -> hyperv;
            case UNSUPPORTED -> true;
        };
    }
}

package io.quarkvm.domain;

/** How a node makes a guest read the persisted VP index from HV_X64_MSR_VP_INDEX (ARCHITECTURE.md §1). */
public enum VpIndexProvider {
    /** KVM_CAP_HYPERV_VP_INDEX: the VMM sets the MSR with KVM_SET_MSRS and reads it back. */
    KERNEL_SETTABLE,
    /** KVM_CAP_X86_USER_SPACE_MSR + KVM_CAP_X86_MSR_FILTER: the vCPU thread answers the guest's RDMSR itself. */
    USERSPACE_MSR,
    /** KVM_CAP_HYPERV only: KVM answers the creation order, so vCPUs are created in VP index order. */
    KERNEL_IMPLICIT,
    /** None of these: a VM that wants a VP index cannot run here. */
    UNSUPPORTED
}

package io.quarkvm.kvm;

/** Which kernel Hyper-V VP index behaviour a {@link Hypervisor} opened by {@link Hypervisors#open} has. */
public enum KernelHyperv {
    /** The real kernel underneath, as it is (here: PVM, no KVM_CAP_HYPERV at all). */
    NONE,
    /**
     * {@link HypervKernelDouble}: KVM_CAP_HYPERV without KVM_CAP_HYPERV_VP_INDEX (Linux before 4.13): the VP index
     * is the vCPU's creation order and the host cannot set it.
     */
    IMPLICIT,
    /** {@link HypervKernelDouble}: KVM_CAP_HYPERV and KVM_CAP_HYPERV_VP_INDEX: the host sets the VP index. */
    SETTABLE
}

package io.quarkvm.kvm;

/** Opens the hypervisor a node runs VMs on: the real KVM, or a hypervisor behind a kernel double. */
public final class Hypervisors {

    private Hypervisors() {
    }

    /**
     * Opens {@code device} (normally {@link Kvm#DEVICE}). {@link KernelHyperv#NONE} gives the real {@link Kvm};
     * the other modes give a {@link HypervKernelDouble} over it, whose capabilities (KVM_CHECK_EXTENSION) report
     * that mode's Hyper-V support, so probe the node's capabilities through the returned object.
     *
     * @throws KvmException          the device cannot be opened
     * @throws IllegalStateException the device is not KVM API 12, or lacks what the double needs underneath
     */
    public static Hypervisor open(String device, KernelHyperv mode) {
        return withKernel(Kvm.open(device), mode);
    }

    /**
     * {@code hypervisor} itself for {@link KernelHyperv#NONE}, otherwise a {@link HypervKernelDouble} over it (closed
     * with it); closes {@code hypervisor} when the double cannot be built.
     */
    public static Hypervisor withKernel(Hypervisor hypervisor, KernelHyperv mode) {
        if (mode == KernelHyperv.NONE) {
            return hypervisor;
        }
        try {
            return new HypervKernelDouble(hypervisor, mode);
        } catch (RuntimeException e) {
            hypervisor.close();
            throw e;
        }
    }
}

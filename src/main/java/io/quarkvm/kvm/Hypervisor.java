package io.quarkvm.kvm;

import java.util.List;

/**
 * What the VMM needs of a hypervisor's system handle: capability queries, supported CPUID, creating VMs. The real
 * /dev/kvm ({@link Kvm}) implements it, and so does {@link HypervKernelDouble}, a KVM with the Hyper-V VP index
 * behaviour of other kernels. Open one with {@link Hypervisors#open}.
 */
public interface Hypervisor extends AutoCloseable {

    /** KVM_GET_API_VERSION */
    int apiVersion();

    /** KVM_CHECK_EXTENSION: 0 when absent, otherwise 1 or a capability-specific number. */
    int checkExtension(KvmCapability capability);

    /** KVM_GET_SUPPORTED_CPUID */
    List<CpuidEntry> supportedCpuid();

    /** KVM_CREATE_VM */
    HypervisorVm createVm();

    @Override
    void close();
}

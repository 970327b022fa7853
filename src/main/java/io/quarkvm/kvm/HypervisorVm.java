package io.quarkvm.kvm;

/** A VM of a {@link Hypervisor}: memory slots, VM capabilities, MSR filter, vCPUs. Implemented by {@link VmFd}. */
public interface HypervisorVm extends AutoCloseable {

    /** KVM_SET_USER_MEMORY_REGION */
    void setUserMemoryRegion(KvmUserspaceMemoryRegion region);

    /** KVM_ENABLE_CAP on the VM. */
    void enableCap(KvmEnableCap cap);

    /** KVM_X86_SET_MSR_FILTER */
    void setMsrFilter(KvmMsrFilter filter);

    /**
     * KVM_CREATE_VCPU with vcpu_id = {@code apicId}. The kernel numbers the vCPUs of a VM in the order they are
     * created (vcpu_idx); call it from the thread that will run the vCPU.
     */
    HypervisorVcpu createVcpu(int apicId);

    @Override
    void close();
}

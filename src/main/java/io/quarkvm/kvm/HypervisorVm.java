package io.quarkvm.kvm;

import java.util.BitSet;

/**
 * A VM of a {@link Hypervisor}: memory slots, VM capabilities, MSR filter, vCPUs, dirty logs. Implemented by
 * {@link VmFd} and by the emulated backend's VM.
 */
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

    /**
     * KVM_GET_DIRTY_LOG: the pages (numbered from the slot's start, 4 KiB each) the guest wrote since the previous
     * call, or since the slot was set with {@link KvmUserspaceMemoryRegion#LOG_DIRTY_PAGES}; each call starts a new
     * interval.
     *
     * @throws IllegalArgumentException the slot does not exist or does not log dirty pages (KVM: ENOENT)
     */
    BitSet getDirtyLog(int slot);

    @Override
    void close();
}

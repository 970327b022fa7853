package io.quarkvm.vmm;

import io.quarkvm.kvm.HypervisorVcpu;

/**
 * Work that must run on a vCPU's own thread, since KVM wants every vCPU ioctl from the thread that created the vCPU
 * (reading or setting its registers and MSRs, checking its identity): see {@link VirtualMachine#onVcpuThread}.
 */
@FunctionalInterface
public interface VcpuTask<T> {

    /** Runs on the vCPU's thread while the vCPU is outside the guest; may call any method of {@code vcpu}. */
    T runOn(HypervisorVcpu vcpu);
}

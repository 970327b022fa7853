package io.quarkvm.kvm;

/** KVM_CAP_* numbers from linux/kvm.h that quarkvm asks KVM_CHECK_EXTENSION about. */
public enum KvmCapability {
    /** Recommended maximum vCPUs per VM. */
    NR_VCPUS(9),
    HYPERV(44),
    /** Maximum vCPUs per VM. */
    MAX_VCPUS(66),
    /** Maximum vCPU id (APIC ID) + 1 that KVM_CREATE_VCPU accepts. */
    MAX_VCPU_ID(128),
    /** kvm_run.immediate_exit is honoured. */
    IMMEDIATE_EXIT(136),
    /** HV_X64_MSR_VP_INDEX settable by the host. */
    HYPERV_VP_INDEX(149),
    /** RDMSR/WRMSR may exit to user space (KVM_EXIT_X86_RDMSR/WRMSR). */
    X86_USER_SPACE_MSR(188),
    /** KVM_X86_SET_MSR_FILTER. */
    X86_MSR_FILTER(189);

    private final int number;

    KvmCapability(int number) {
        this.number = number;
    }

    /** The KVM_CAP_ value. */
    public int number() {
        return number;
    }

    /** The C name, e.g. "KVM_CAP_X86_MSR_FILTER". */
    public String cName() {
        return "KVM_CAP_" + name();
    }
}

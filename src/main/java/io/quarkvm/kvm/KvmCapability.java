package io.quarkvm.kvm;

/** KVM_CAP_* numbers from linux/kvm.h that quarkvm asks KVM_CHECK_EXTENSION about. */
public enum KvmCapability {
    /** An in-kernel interrupt controller could be created (KVM_CREATE_IRQCHIP); this VMM creates none. */
    IRQCHIP(0),
    /** Recommended maximum vCPUs per VM. */
    NR_VCPUS(9),
    /** KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS. */
    VCPU_EVENTS(41),
    HYPERV(44),
    /** KVM_GET_XSAVE / KVM_SET_XSAVE. */
    XSAVE(55),
    /** KVM_GET_XCRS / KVM_SET_XCRS. */
    XCRS(56),
    /** KVM_SET_TSC_KHZ can scale the guest's TSC to another rate than the host's. */
    TSC_CONTROL(60),
    /** KVM_GET_TSC_KHZ. */
    GET_TSC_KHZ(61),
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
    X86_MSR_FILTER(189),
    /** KVM_GET_XSAVE2; the answer is the size of the XSAVE area in bytes (at least 4096). */
    XSAVE2(208);

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

package io.quarkvm.kvm;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every KVM ioctl request number used here, computed like the C macros of asm-generic/ioctl.h from the definitions
 * in linux/kvm.h (the size argument is the sizeof of the named struct, taken from the struct classes and checked
 * against gcc by KvmLayoutTest). Values are unsigned 64-bit: pass them as they are, never as int.
 */
public final class KvmIoctls {

    /** KVMIO in linux/kvm.h. */
    private static final int KVMIO = 0xAE;

    // asm-generic/ioctl.h: nr 8 bits, type 8 bits, size 14 bits, dir 2 bits (none 0, write 1, read 2).
    private static final int NR_SHIFT = 0;
    private static final int TYPE_SHIFT = 8;
    private static final int SIZE_SHIFT = 16;
    private static final int DIR_SHIFT = 30;
    private static final long DIR_NONE = 0;
    private static final long DIR_WRITE = 1;
    private static final long DIR_READ = 2;

    /** _IO(KVMIO, 0x00) */
    public static final long KVM_GET_API_VERSION = io(0x00);
    /** _IO(KVMIO, 0x01) */
    public static final long KVM_CREATE_VM = io(0x01);
    /** _IO(KVMIO, 0x03) */
    public static final long KVM_CHECK_EXTENSION = io(0x03);
    /** _IO(KVMIO, 0x04) */
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);
    /** _IOWR(KVMIO, 0x05, struct kvm_cpuid2) */
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(0x05, KvmCpuid2.HEADER_SIZE);

    /** _IO(KVMIO, 0x41) */
    public static final long KVM_CREATE_VCPU = io(0x41);
    /** _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region) */
    public static final long KVM_SET_USER_MEMORY_REGION = iow(0x46, KvmUserspaceMemoryRegion.SIZE);
    /** _IOW(KVMIO, 0x42, struct kvm_dirty_log) */
    public static final long KVM_GET_DIRTY_LOG = iow(0x42, KvmDirtyLog.SIZE);
    /** _IOW(KVMIO, 0xa3, struct kvm_enable_cap) */
    public static final long KVM_ENABLE_CAP = iow(0xa3, KvmEnableCap.SIZE);
    /** _IOW(KVMIO, 0xc6, struct kvm_msr_filter) */
    public static final long KVM_X86_SET_MSR_FILTER = iow(0xc6, KvmMsrFilter.SIZE);

    /** _IO(KVMIO, 0x80) */
    public static final long KVM_RUN = io(0x80);
    /** _IOR(KVMIO, 0x81, struct kvm_regs) */
    public static final long KVM_GET_REGS = ior(0x81, KvmRegs.SIZE);
    /** _IOW(KVMIO, 0x82, struct kvm_regs) */
    public static final long KVM_SET_REGS = iow(0x82, KvmRegs.SIZE);
    /** _IOR(KVMIO, 0x83, struct kvm_sregs) */
    public static final long KVM_GET_SREGS = ior(0x83, KvmSregs.SIZE);
    /** _IOW(KVMIO, 0x84, struct kvm_sregs) */
    public static final long KVM_SET_SREGS = iow(0x84, KvmSregs.SIZE);
    /** _IOWR(KVMIO, 0x88, struct kvm_msrs) */
    public static final long KVM_GET_MSRS = iowr(0x88, KvmMsrs.HEADER_SIZE);
    /** _IOW(KVMIO, 0x89, struct kvm_msrs) */
    public static final long KVM_SET_MSRS = iow(0x89, KvmMsrs.HEADER_SIZE);
    /** _IOR(KVMIO, 0x8c, struct kvm_fpu) */
    public static final long KVM_GET_FPU = ior(0x8c, KvmFpu.SIZE);
    /** _IOW(KVMIO, 0x8d, struct kvm_fpu) */
    public static final long KVM_SET_FPU = iow(0x8d, KvmFpu.SIZE);
    /** _IOW(KVMIO, 0x8b, struct kvm_signal_mask) */
    public static final long KVM_SET_SIGNAL_MASK = iow(0x8b, KvmSignalMask.HEADER_SIZE);
    /** _IOW(KVMIO, 0x90, struct kvm_cpuid2) */
    public static final long KVM_SET_CPUID2 = iow(0x90, KvmCpuid2.HEADER_SIZE);
    /** _IOWR(KVMIO, 0x91, struct kvm_cpuid2) */
    public static final long KVM_GET_CPUID2 = iowr(0x91, KvmCpuid2.HEADER_SIZE);
    /** _IOR(KVMIO, 0x98, struct kvm_mp_state) */
    public static final long KVM_GET_MP_STATE = ior(0x98, KvmMpState.SIZE);
    /** _IOW(KVMIO, 0x99, struct kvm_mp_state) */
    public static final long KVM_SET_MP_STATE = iow(0x99, KvmMpState.SIZE);
    /** _IOR(KVMIO, 0x9f, struct kvm_vcpu_events) */
    public static final long KVM_GET_VCPU_EVENTS = ior(0x9f, KvmVcpuEvents.SIZE);
    /** _IOW(KVMIO, 0xa0, struct kvm_vcpu_events) */
    public static final long KVM_SET_VCPU_EVENTS = iow(0xa0, KvmVcpuEvents.SIZE);
    /** _IO(KVMIO, 0xa2): the rate in kHz is the argument itself. */
    public static final long KVM_SET_TSC_KHZ = io(0xa2);
    /** _IO(KVMIO, 0xa3): the rate in kHz is the result. */
    public static final long KVM_GET_TSC_KHZ = io(0xa3);
    /** _IOR(KVMIO, 0xa4, struct kvm_xsave) */
    public static final long KVM_GET_XSAVE = ior(0xa4, KvmXsave.SIZE);
    /** _IOW(KVMIO, 0xa5, struct kvm_xsave); KVM reads its whole KVM_CAP_XSAVE2 size. */
    public static final long KVM_SET_XSAVE = iow(0xa5, KvmXsave.SIZE);
    /** _IOR(KVMIO, 0xa6, struct kvm_xcrs) */
    public static final long KVM_GET_XCRS = ior(0xa6, KvmXcrs.SIZE);
    /** _IOW(KVMIO, 0xa7, struct kvm_xcrs) */
    public static final long KVM_SET_XCRS = iow(0xa7, KvmXcrs.SIZE);
    /** _IOR(KVMIO, 0xcf, struct kvm_xsave); KVM writes its whole KVM_CAP_XSAVE2 size. */
    public static final long KVM_GET_XSAVE2 = ior(0xcf, KvmXsave.SIZE);

    private KvmIoctls() {
    }

    /** Every request above by its C name, for the layout test and for error messages. */
    public static Map<String, Long> all() {
        Map<String, Long> all = new LinkedHashMap<>();
        all.put("KVM_GET_API_VERSION", KVM_GET_API_VERSION);
        all.put("KVM_CREATE_VM", KVM_CREATE_VM);
        all.put("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION);
        all.put("KVM_GET_VCPU_MMAP_SIZE", KVM_GET_VCPU_MMAP_SIZE);
        all.put("KVM_GET_SUPPORTED_CPUID", KVM_GET_SUPPORTED_CPUID);
        all.put("KVM_CREATE_VCPU", KVM_CREATE_VCPU);
        all.put("KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION);
        all.put("KVM_GET_DIRTY_LOG", KVM_GET_DIRTY_LOG);
        all.put("KVM_ENABLE_CAP", KVM_ENABLE_CAP);
        all.put("KVM_X86_SET_MSR_FILTER", KVM_X86_SET_MSR_FILTER);
        all.put("KVM_RUN", KVM_RUN);
        all.put("KVM_GET_REGS", KVM_GET_REGS);
        all.put("KVM_SET_REGS", KVM_SET_REGS);
        all.put("KVM_GET_SREGS", KVM_GET_SREGS);
        all.put("KVM_SET_SREGS", KVM_SET_SREGS);
        all.put("KVM_GET_MSRS", KVM_GET_MSRS);
        all.put("KVM_SET_MSRS", KVM_SET_MSRS);
        all.put("KVM_GET_FPU", KVM_GET_FPU);
        all.put("KVM_SET_FPU", KVM_SET_FPU);
        all.put("KVM_SET_SIGNAL_MASK", KVM_SET_SIGNAL_MASK);
        all.put("KVM_SET_CPUID2", KVM_SET_CPUID2);
        all.put("KVM_GET_CPUID2", KVM_GET_CPUID2);
        all.put("KVM_GET_MP_STATE", KVM_GET_MP_STATE);
        all.put("KVM_SET_MP_STATE", KVM_SET_MP_STATE);
        all.put("KVM_GET_VCPU_EVENTS", KVM_GET_VCPU_EVENTS);
        all.put("KVM_SET_VCPU_EVENTS", KVM_SET_VCPU_EVENTS);
        all.put("KVM_SET_TSC_KHZ", KVM_SET_TSC_KHZ);
        all.put("KVM_GET_TSC_KHZ", KVM_GET_TSC_KHZ);
        all.put("KVM_GET_XSAVE", KVM_GET_XSAVE);
        all.put("KVM_SET_XSAVE", KVM_SET_XSAVE);
        all.put("KVM_GET_XCRS", KVM_GET_XCRS);
        all.put("KVM_SET_XCRS", KVM_SET_XCRS);
        all.put("KVM_GET_XSAVE2", KVM_GET_XSAVE2);
        return all;
    }

    private static long ioc(long direction, int nr, int size) {
        return direction << DIR_SHIFT | (long) KVMIO << TYPE_SHIFT | (long) nr << NR_SHIFT | (long) size << SIZE_SHIFT;
    }

    private static long io(int nr) {
        return ioc(DIR_NONE, nr, 0);
    }

    private static long ior(int nr, int size) {
        return ioc(DIR_READ, nr, size);
    }

    private static long iow(int nr, int size) {
        return ioc(DIR_WRITE, nr, size);
    }

    private static long iowr(int nr, int size) {
        return ioc(DIR_READ | DIR_WRITE, nr, size);
    }
}

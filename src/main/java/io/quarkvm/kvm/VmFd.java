package io.quarkvm.kvm;

import java.lang.ref.Reference;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jnr.ffi.Pointer;

/** A VM file descriptor, created by {@link Kvm#createVm}: memory slots, VM capabilities, MSR filter, vCPUs. */
public final class VmFd extends FdHandle implements HypervisorVm {

    /** KVM_MSR_EXIT_REASON_INVAL (linux/kvm.h): exit on MSR accesses KVM would answer with #GP. */
    public static final long MSR_EXIT_REASON_INVAL = 1 << 0;
    /** KVM_MSR_EXIT_REASON_UNKNOWN: exit on MSRs KVM does not know. */
    public static final long MSR_EXIT_REASON_UNKNOWN = 1 << 1;
    /** KVM_MSR_EXIT_REASON_FILTER: exit on accesses the MSR filter denies. */
    public static final long MSR_EXIT_REASON_FILTER = 1 << 2;

    private final int vcpuMmapSize;
    /** Slots with KVM_MEM_LOG_DIRTY_PAGES and their sizes: KVM_GET_DIRTY_LOG needs a bitmap that fits. */
    private final Map<Integer, Long> slotSizes = new ConcurrentHashMap<>();
    /** Asked at the first KVM_CREATE_VCPU; the same for every vCPU of the VM. */
    private volatile VcpuStateSupport vcpuStateSupport;

    VmFd(int fd, int vcpuMmapSize) {
        super(fd);
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /** A handle on an arbitrary descriptor: only for tests of the error paths. */
    static VmFd onDescriptor(int fd, int vcpuMmapSize) {
        return new VmFd(fd, vcpuMmapSize);
    }

    /** KVM_CHECK_EXTENSION on the VM: what this VM offers, which may differ from the system answer. */
    int checkExtension(KvmCapability capability) {
        return ioctl("KVM_CHECK_EXTENSION", KvmIoctls.KVM_CHECK_EXTENSION, capability.number());
    }

    /** KVM_SET_USER_MEMORY_REGION */
    @Override
    public void setUserMemoryRegion(KvmUserspaceMemoryRegion region) {
        ioctl("KVM_SET_USER_MEMORY_REGION", KvmIoctls.KVM_SET_USER_MEMORY_REGION, region.toNative());
        if ((region.flags() & KvmUserspaceMemoryRegion.LOG_DIRTY_PAGES) != 0) {
            slotSizes.put(region.slot(), region.memorySize());
        } else {
            slotSizes.remove(region.slot());
        }
    }

    /** KVM_ENABLE_CAP on the VM. */
    @Override
    public void enableCap(KvmEnableCap cap) {
        ioctl("KVM_ENABLE_CAP", KvmIoctls.KVM_ENABLE_CAP, cap.toNative());
    }

    /** KVM_X86_SET_MSR_FILTER */
    @Override
    public void setMsrFilter(KvmMsrFilter filter) {
        List<Pointer> memory = filter.toNative();
        ioctl("KVM_X86_SET_MSR_FILTER", KvmIoctls.KVM_X86_SET_MSR_FILTER, memory.get(0));
        // The range bitmaps must stay reachable until the ioctl has copied them.
        Reference.reachabilityFence(memory);
    }

    /** KVM_GET_DIRTY_LOG into a bitmap sized for the slot (the caller says how big the slot is). */
    @Override
    public BitSet getDirtyLog(int slot) {
        Long size = slotSizes.get(slot);
        if (size == null) {
            throw new IllegalArgumentException("memory slot " + slot + " was not set with KVM_MEM_LOG_DIRTY_PAGES");
        }
        long pages = size / KvmDirtyLog.PAGE_SIZE;
        Pointer bitmap = Posix.allocate((int) ((pages + 63) / 64 * 8));
        ioctl("KVM_GET_DIRTY_LOG", KvmIoctls.KVM_GET_DIRTY_LOG, KvmDirtyLog.toNative(slot, bitmap));
        long[] words = new long[(int) ((pages + 63) / 64)];
        bitmap.get(0, words, 0, words.length);
        Reference.reachabilityFence(bitmap);
        return BitSet.valueOf(words);
    }

    /**
     * KVM_CREATE_VCPU with vcpu_id = {@code apicId} (KVM uses it as the initial APIC ID), then maps its kvm_run.
     * Each vCPU ioctl must come from one thread: call this from the thread that will run the vCPU.
     */
    @Override
    public VcpuFd createVcpu(int apicId) {
        int vcpuFd = ioctl("KVM_CREATE_VCPU", KvmIoctls.KVM_CREATE_VCPU, apicId);
        try {
            if (vcpuStateSupport == null) {
                vcpuStateSupport = VcpuStateSupport.ask(this::checkExtension);
            }
            return new VcpuFd(vcpuFd, apicId, NativeMapping.ofFile("mmap(kvm_run)", vcpuFd, vcpuMmapSize),
                    vcpuStateSupport);
        } catch (KvmException e) {
            Posix.LIBC.close(vcpuFd);
            throw e;
        }
    }
}

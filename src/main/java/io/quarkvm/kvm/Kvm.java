package io.quarkvm.kvm;

import java.util.List;
import jnr.ffi.Pointer;

/** The /dev/kvm system handle: capability queries, supported CPUID, and the factory of {@link VmFd}s. */
public final class Kvm extends FdHandle implements Hypervisor {

    public static final String DEVICE = "/dev/kvm";
    /** KVM_API_VERSION (linux/kvm.h): the only version there has ever been. */
    public static final int API_VERSION = 12;
    /** Start size for KVM_GET_SUPPORTED_CPUID/KVM_GET_CPUID2; doubled on E2BIG. */
    static final int CPUID_INITIAL_CAPACITY = 128;
    static final int CPUID_MAX_CAPACITY = 4096;

    private Kvm(int fd) {
        super(fd);
    }

    /** Opens /dev/kvm and checks KVM_GET_API_VERSION. */
    public static Kvm open() {
        return open(DEVICE);
    }

    public static Kvm open(String device) {
        int fd = Posix.LIBC.open(device, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0) {
            throw new KvmException("open(" + device + ")", Posix.errno());
        }
        Kvm kvm = new Kvm(fd);
        int version = kvm.apiVersion();
        if (version != API_VERSION) {
            kvm.close();
            throw new IllegalStateException(device + " speaks KVM API " + version + ", expected " + API_VERSION);
        }
        return kvm;
    }

    /** What logs and test output name this backend by (the emulated one says "emulated (Unicorn ...)"). */
    @Override
    public String toString() {
        return "KVM (API " + API_VERSION + ")";
    }

    /** A handle on an arbitrary descriptor: only for tests of the error paths. */
    static Kvm onDescriptor(int fd) {
        return new Kvm(fd);
    }

    /** KVM_GET_API_VERSION */
    @Override
    public int apiVersion() {
        return ioctl("KVM_GET_API_VERSION", KvmIoctls.KVM_GET_API_VERSION, 0L);
    }

    /** KVM_CHECK_EXTENSION: 0 when absent, otherwise 1 or a capability-specific number. */
    @Override
    public int checkExtension(KvmCapability capability) {
        return ioctl("KVM_CHECK_EXTENSION", KvmIoctls.KVM_CHECK_EXTENSION, capability.number());
    }

    /** KVM_GET_VCPU_MMAP_SIZE: bytes to mmap from a vCPU fd (kvm_run and what follows it). */
    public int vcpuMmapSize() {
        return ioctl("KVM_GET_VCPU_MMAP_SIZE", KvmIoctls.KVM_GET_VCPU_MMAP_SIZE, 0L);
    }

    /** KVM_GET_SUPPORTED_CPUID: every leaf KVM can expose to a guest on this host. */
    @Override
    public List<CpuidEntry> supportedCpuid() {
        for (int capacity = CPUID_INITIAL_CAPACITY; ; capacity *= 2) {
            Pointer cpuid = KvmCpuid2.allocate(capacity);
            try {
                ioctl("KVM_GET_SUPPORTED_CPUID", KvmIoctls.KVM_GET_SUPPORTED_CPUID, cpuid);
                return KvmCpuid2.read(cpuid);
            } catch (KvmException e) {
                if (e.errno() != Errno.E2BIG || capacity >= CPUID_MAX_CAPACITY) {
                    throw e;
                }
            }
        }
    }

    /** KVM_CREATE_VM (default machine type 0). */
    @Override
    public VmFd createVm() {
        int mmapSize = vcpuMmapSize();
        int vmFd = ioctl("KVM_CREATE_VM", KvmIoctls.KVM_CREATE_VM, 0L);
        return new VmFd(vmFd, mmapSize);
    }
}

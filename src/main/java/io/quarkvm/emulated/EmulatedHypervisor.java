package io.quarkvm.emulated;

import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.Kvm;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.KvmXsave;
import io.quarkvm.kvm.NativeMapping;
import io.quarkvm.kvm.Posix;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.byref.PointerByReference;

/**
 * The {@code EMULATED} backend: KVM's contract, as the VMM uses it, carried out by the Unicorn CPU emulator (one
 * engine per vCPU, each on its vCPU's thread, all over the same guest RAM). For nodes without /dev/kvm,
 * development and CI; no APIC, no interrupt delivery, so no real operating system boots on it. Measured facts
 * behind the design: ../shared/design/EMULATION.md.
 */
public final class EmulatedHypervisor implements Hypervisor {

    /** The shared library, loaded at run time (never bundled: GPL-2.0). */
    public static final String LIBRARY = "libunicorn.so.2";
    /** The Debian package that provides it. */
    public static final String DEBIAN_PACKAGE = "libunicorn2";
    /** The CPUID leaves below 0x80000000 whose sub-leaf selects the answer (ECX matters). */
    private static final List<Integer> INDEXED_LEAVES = List.of(0x4, 0x7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x1F);
    private static final int EXTENDED_LEAVES = 0x80000000;
    /** What the emulated backend accepts as vcpu_id, as KVM_CAP_MAX_VCPU_ID would say. */
    static final int MAX_VCPU_ID = 4096;
    /** vCPUs per VM, as KVM_CAP_MAX_VCPUS would say; the guest layout holds 1024. */
    static final int MAX_VCPUS = 1024;

    /**
     * How long the TSC is measured against the host clock: a sample's uncertainty is about a microsecond (one
     * uc_emu_start between two clock readings), so the rate comes out within a few tens of ppm.
     */
    private static final long TSC_MEASUREMENT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** A sample whose clock readings lie further apart than this was preempted, and is taken again. */
    private static final long TSC_SAMPLE_MAX_NANOS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final int TSC_SAMPLE_ATTEMPTS = 1000;

    private final Unicorn unicorn;
    private final int tscKhz;
    private final List<CpuidEntry> supportedCpuid;

    private EmulatedHypervisor(Library.Loaded loaded) {
        this.unicorn = loaded.unicorn();
        this.tscKhz = loaded.tscKhz();
        this.supportedCpuid = List.copyOf(measureCpuid(unicorn));
    }

    /**
     * Loads libunicorn.so.2 and checks it is Unicorn 2.
     *
     * @throws IllegalStateException the library cannot be loaded (the message names it and its Debian package)
     */
    public static EmulatedHypervisor open() {
        return open(LIBRARY);
    }

    /**
     * Loads {@code library} (a name the dynamic linker searches for, or a path) and checks it is Unicorn 2.
     *
     * @throws IllegalStateException the library cannot be loaded (the message names it and the Debian package)
     */
    public static EmulatedHypervisor open(String library) {
        return new EmulatedHypervisor(Library.get(library));
    }

    /** Each library loaded once per JVM (dlopen keeps it anyway), and the host's TSC rate measured once with it. */
    private static final class Library {
        private static final Map<String, Loaded> LOADED = new HashMap<>();

        record Loaded(Unicorn unicorn, int tscKhz) {
        }

        static synchronized Loaded get(String library) {
            return LOADED.computeIfAbsent(library, name -> {
                Unicorn unicorn = load(name);
                return new Loaded(unicorn, measureTscKhz(unicorn));
            });
        }
    }

    /** Binds {@code library} and checks it is Unicorn 2; the failure says what to install. */
    static Unicorn load(String library) {
        Unicorn unicorn;
        try {
            unicorn = LibraryLoader.create(Unicorn.class).failImmediately().load(library);
        } catch (LinkageError | RuntimeException e) {
            throw new IllegalStateException("the emulated backend needs " + library + " (Debian package "
                    + DEBIAN_PACKAGE + ": apt-get install " + DEBIAN_PACKAGE + "), which cannot be loaded: "
                    + e.getMessage(), e);
        }
        int major = unicorn.uc_version(null, null) >>> 24;
        if (major != 2) {
            throw new IllegalStateException(library + " is Unicorn " + major + ", the emulated backend needs "
                    + LIBRARY + " (Unicorn 2, Debian package " + DEBIAN_PACKAGE + ")");
        }
        return unicorn;
    }

    /** KVM_GET_API_VERSION: the contract this backend keeps is KVM's. */
    @Override
    public int apiVersion() {
        return Kvm.API_VERSION;
    }

    /**
     * What KVM_CHECK_EXTENSION would answer for this backend: user-space MSR exits and MSR filters (every RDMSR and
     * WRMSR is seen by the backend), immediate exit; no in-kernel Hyper-V.
     */
    @Override
    public int checkExtension(KvmCapability capability) {
        return switch (capability) {
            case NR_VCPUS, MAX_VCPUS -> MAX_VCPUS;
            case MAX_VCPU_ID -> MAX_VCPU_ID;
            case IMMEDIATE_EXIT, X86_USER_SPACE_MSR, X86_MSR_FILTER, XSAVE, VCPU_EVENTS, GET_TSC_KHZ -> 1;
            case XSAVE2 -> KvmXsave.SIZE;
            // No APIC, no XCR0 (its CPU has no XSAVE), no other TSC rate than the host's: see EmulatedVcpu.
            case HYPERV, HYPERV_VP_INDEX, IRQCHIP, XCRS, TSC_CONTROL -> 0;
        };
    }

    /** KVM_GET_SUPPORTED_CPUID: what the emulated CPU itself answers, leaf by leaf (measured at open). */
    @Override
    public List<CpuidEntry> supportedCpuid() {
        return supportedCpuid;
    }

    @Override
    public HypervisorVm createVm() {
        return new EmulatedVm(unicorn, tscKhz);
    }

    @Override
    public void close() {
        // Nothing to release: engines belong to vCPUs, and the library stays loaded.
    }

    @Override
    public String toString() {
        return "emulated (Unicorn " + (unicorn.uc_version(null, null) >>> 24) + ", " + LIBRARY + ")";
    }

    /**
     * Runs {@code measure} with a scratch engine whose page at address 0 holds {@code instruction}, which
     * {@code uc_emu_start(engine, 0, -1, 0, 1)} executes once.
     */
    private static <T> T withScratchEngine(Unicorn unicorn, byte[] instruction, Function<Pointer, T> measure) {
        PointerByReference handle = new PointerByReference();
        check(unicorn, "uc_open", unicorn.uc_open(Unicorn.ARCH_X86, Unicorn.MODE_64, handle));
        Pointer engine = handle.getValue();
        try (NativeMapping page = NativeMapping.anonymous(4096)) {
            page.pointer().put(0, instruction, 0, instruction.length);
            check(unicorn, "uc_mem_map_ptr", unicorn.uc_mem_map_ptr(engine, 0, 4096, Unicorn.PROT_ALL, page.address()));
            return measure.apply(engine);
        } finally {
            unicorn.uc_close(engine);
        }
    }

    /** Runs CPUID in a scratch engine for every leaf the emulated CPU reports. */
    private static List<CpuidEntry> measureCpuid(Unicorn unicorn) {
        return withScratchEngine(unicorn, new byte[] {0x0F, (byte) 0xA2}, engine -> { // CPUID = 0F A2
            Pointer value = Posix.allocate(8);
            List<CpuidEntry> entries = new ArrayList<>();
            for (int base : new int[] {0, EXTENDED_LEAVES}) {
                int max = cpuid(unicorn, engine, value, base, 0)[0];
                for (int leaf = base; Integer.compareUnsigned(leaf, max) <= 0; leaf++) {
                    int[] r = cpuid(unicorn, engine, value, leaf, 0);
                    boolean indexed = INDEXED_LEAVES.contains(leaf);
                    entries.add(new CpuidEntry(leaf, 0, indexed ? CpuidEntry.FLAG_SIGNIFICANT_INDEX : 0,
                            r[0], r[1], r[2], r[3]));
                    for (int index = 1; leaf == 0x4 && (r[0] & 0x1F) != 0; index++) { // caches until "no more"
                        r = cpuid(unicorn, engine, value, leaf, index);
                        entries.add(new CpuidEntry(leaf, index, CpuidEntry.FLAG_SIGNIFICANT_INDEX,
                                r[0], r[1], r[2], r[3]));
                    }
                }
            }
            return entries;
        });
    }

    /**
     * The rate, in kHz, of the TSC an emulated guest reads. Unicorn answers RDTSC with the host's own TSC
     * (helper_rdtsc: cpu_get_tsc, which is cpu_get_host_ticks, the host's RDTSC, with a zero tsc_offset), and
     * 2.0.1 cannot hook RDTSC (uc_hook_add answers UC_ERR_HOOK), so the guest's TSC is the host's, and only the
     * host's rate can be given. Measured here as a guest reads it: RDTSC in a scratch engine against the host's
     * monotonic clock, {@value #TSC_MEASUREMENT_NANOS} ns apart (on this machine 2,596,115 to 2,596,120 kHz in five
     * runs, where the kernel says 2596.122 MHz and KVM_GET_TSC_KHZ 2596122).
     */
    static int measureTscKhz(Unicorn unicorn) {
        return withScratchEngine(unicorn, new byte[] {0x0F, 0x31}, engine -> { // RDTSC = 0F 31
            Pointer value = Posix.allocate(8);
            TscSample.take(unicorn, engine, value); // translates the block, so that the samples time only its run
            TscSample first = TscSample.take(unicorn, engine, value);
            long end = first.nanos() + TSC_MEASUREMENT_NANOS;
            for (long left = TSC_MEASUREMENT_NANOS; left > 0; left = end - System.nanoTime()) {
                LockSupport.parkNanos(left);
            }
            TscSample last = TscSample.take(unicorn, engine, value);
            return (int) Math.round((last.tsc() - first.tsc()) * 1e6 / (last.nanos() - first.nanos()));
        });
    }

    /** The guest's TSC and the host clock ({@link System#nanoTime}) at the same moment. */
    private record TscSample(long tsc, long nanos) {

        /**
         * One RDTSC in the scratch engine, timed at the middle of its run; taken again while the clock readings
         * around the run lie far apart (the thread was preempted in between).
         */
        static TscSample take(Unicorn unicorn, Pointer engine, Pointer value) {
            for (int attempt = 1; ; attempt++) {
                long before = System.nanoTime();
                check(unicorn, "uc_emu_start(RDTSC)", unicorn.uc_emu_start(engine, 0, -1L, 0, 1));
                long after = System.nanoTime();
                if (after - before <= TSC_SAMPLE_MAX_NANOS || attempt == TSC_SAMPLE_ATTEMPTS) {
                    unicorn.uc_reg_read(engine, Unicorn.X86_REG_RDX, value);
                    long high = value.getLongLong(0);
                    unicorn.uc_reg_read(engine, Unicorn.X86_REG_RAX, value);
                    long tsc = high << 32 | value.getLongLong(0) & 0xFFFF_FFFFL; // EDX:EAX
                    return new TscSample(tsc, before + (after - before) / 2);
                }
            }
        }
    }

    private static int[] cpuid(Unicorn unicorn, Pointer engine, Pointer value, int leaf, int index) {
        value.putLongLong(0, Integer.toUnsignedLong(leaf));
        unicorn.uc_reg_write(engine, Unicorn.X86_REG_RAX, value);
        value.putLongLong(0, index);
        unicorn.uc_reg_write(engine, Unicorn.X86_REG_RCX, value);
        check(unicorn, "uc_emu_start(CPUID)", unicorn.uc_emu_start(engine, 0, -1L, 0, 1));
        int[] registers = new int[4];
        int[] ids = {Unicorn.X86_REG_RAX, Unicorn.X86_REG_RBX, Unicorn.X86_REG_RCX, Unicorn.X86_REG_RDX};
        for (int i = 0; i < 4; i++) {
            unicorn.uc_reg_read(engine, ids[i], value);
            registers[i] = (int) value.getLongLong(0);
        }
        return registers;
    }

    static void check(Unicorn unicorn, String call, int error) {
        if (error != Unicorn.ERR_OK) {
            throw new UnicornException(unicorn, call, error);
        }
    }
}

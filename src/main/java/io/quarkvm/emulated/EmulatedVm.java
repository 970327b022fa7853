package io.quarkvm.emulated;

import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.KvmEnableCap;
import io.quarkvm.kvm.KvmMsrFilter;
import io.quarkvm.kvm.KvmUserspaceMemoryRegion;
import io.quarkvm.kvm.Posix;
import io.quarkvm.kvm.VmFd;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import jnr.ffi.Pointer;

/**
 * An emulated VM: the memory slots every vCPU engine maps (the VMM's own RAM, shared, not copied), the MSR exits
 * the caller enabled and its MSR filter (kept as KVM keeps them, and applied by the vCPUs to every RDMSR/WRMSR),
 * and dirty logs kept by comparison with a shadow copy.
 */
final class EmulatedVm implements HypervisorVm {

    private final Unicorn unicorn;
    private final int tscKhz;
    private final List<KvmUserspaceMemoryRegion> regions = new CopyOnWriteArrayList<>();
    private final Map<Integer, ShadowDirtyLog> dirtyLogs = new ConcurrentHashMap<>();
    /** Guarded by this. */
    private final Set<Integer> apicIds = new HashSet<>();
    private volatile KvmMsrFilter msrFilter = new KvmMsrFilter(false, List.of());
    /** KVM_MSR_EXIT_REASON_* bits enabled with KVM_CAP_X86_USER_SPACE_MSR. */
    private volatile long msrExitReasons;
    private volatile boolean closed;

    /** @param tscKhz the rate of the host's TSC, which every vCPU's RDTSC reads */
    EmulatedVm(Unicorn unicorn, int tscKhz) {
        this.unicorn = unicorn;
        this.tscKhz = tscKhz;
    }

    /**
     * KVM_SET_USER_MEMORY_REGION. Slots must be in place before the first vCPU is created (each vCPU's engine maps
     * them when it is created); what KVM calls a flags-only change (KVM_MR_FLAGS_ONLY: the same slot, address, size
     * and memory, other flags) is taken at any time. KVM_MEM_LOG_DIRTY_PAGES starts a dirty log with every page
     * clean; taking it away ends the log.
     */
    @Override
    public synchronized void setUserMemoryRegion(KvmUserspaceMemoryRegion region) {
        requireOpen();
        for (int i = 0; i < regions.size(); i++) {
            if (isFlagsOnlyChange(regions.get(i), region)) {
                regions.set(i, region);
                logDirtyPages(region);
                return;
            }
        }
        if (!apicIds.isEmpty()) {
            throw new IllegalStateException("the emulated backend takes new memory slots only before the first vCPU");
        }
        if (region.memorySize() <= 0 || region.memorySize() % ShadowDirtyLog.PAGE_SIZE != 0
                || region.guestPhysicalAddress() % ShadowDirtyLog.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("memory slot " + region.slot() + " is not whole 4 KiB pages: " + region);
        }
        for (KvmUserspaceMemoryRegion other : regions) {
            if (other.slot() == region.slot() || overlaps(other, region)) {
                throw new IllegalArgumentException("memory slot " + region.slot() + " collides with " + other);
            }
        }
        regions.add(region);
        logDirtyPages(region);
    }

    private static boolean isFlagsOnlyChange(KvmUserspaceMemoryRegion existing, KvmUserspaceMemoryRegion region) {
        return existing.slot() == region.slot() && existing.guestPhysicalAddress() == region.guestPhysicalAddress()
                && existing.memorySize() == region.memorySize()
                && existing.userspaceAddress() == region.userspaceAddress();
    }

    /** Holds this: a log starts when the slot gains KVM_MEM_LOG_DIRTY_PAGES (not again) and ends when it loses it. */
    private void logDirtyPages(KvmUserspaceMemoryRegion region) {
        if ((region.flags() & KvmUserspaceMemoryRegion.LOG_DIRTY_PAGES) != 0) {
            dirtyLogs.computeIfAbsent(region.slot(),
                    slot -> new ShadowDirtyLog(region.userspaceAddress(), region.memorySize()));
        } else {
            ShadowDirtyLog ended = dirtyLogs.remove(region.slot());
            if (ended != null) {
                ended.close();
            }
        }
    }

    private static boolean overlaps(KvmUserspaceMemoryRegion a, KvmUserspaceMemoryRegion b) {
        return a.guestPhysicalAddress() < b.guestPhysicalAddress() + b.memorySize()
                && b.guestPhysicalAddress() < a.guestPhysicalAddress() + a.memorySize();
    }

    /** KVM_ENABLE_CAP: only KVM_CAP_X86_USER_SPACE_MSR means anything to an emulator. */
    @Override
    public void enableCap(KvmEnableCap cap) {
        requireOpen();
        if (cap.capability() != KvmCapability.X86_USER_SPACE_MSR) {
            throw new IllegalArgumentException(cap.capability().cName() + " is not supported by the emulated backend");
        }
        long[] args = cap.args();
        msrExitReasons = args.length == 0 ? 0 : args[0];
    }

    /** KVM_X86_SET_MSR_FILTER */
    @Override
    public void setMsrFilter(KvmMsrFilter filter) {
        requireOpen();
        msrFilter = filter;
    }

    /** KVM_CREATE_VCPU: a Unicorn engine over this VM's memory slots, owned by the calling thread. */
    @Override
    public HypervisorVcpu createVcpu(int apicId) {
        synchronized (this) {
            requireOpen();
            if (apicId < 0 || apicId >= EmulatedHypervisor.MAX_VCPU_ID || !apicIds.add(apicId)) {
                throw new IllegalArgumentException("vcpu_id " + apicId + " is out of range or taken");
            }
        }
        return new EmulatedVcpu(this, apicId);
    }

    /** KVM_GET_DIRTY_LOG: the pages of the slot written since the last call (or since logging began). */
    @Override
    public BitSet getDirtyLog(int slot) {
        requireOpen();
        ShadowDirtyLog log = dirtyLogs.get(slot);
        if (log == null) {
            throw new IllegalArgumentException("memory slot " + slot + " has no KVM_MEM_LOG_DIRTY_PAGES");
        }
        return log.collect();
    }

    @Override
    public void close() {
        closed = true;
        dirtyLogs.values().forEach(ShadowDirtyLog::close);
        dirtyLogs.clear();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the emulated VM is closed");
        }
    }

    // ---- for the vCPUs -------------------------------------------------------------------------------------

    Unicorn unicorn() {
        return unicorn;
    }

    int tscKhz() {
        return tscKhz;
    }

    List<KvmUserspaceMemoryRegion> regions() {
        return regions;
    }

    /**
     * Host memory behind guest-physical [address, address + length), or null when no slot backs all of it. The
     * emulated CPU (Unicorn 2.0.1) treats linear addresses as physical, so this also reads the guest's own
     * identity-mapped structures (IDT, stack).
     */
    Pointer guestMemory(long address, int length) {
        for (KvmUserspaceMemoryRegion region : regions) {
            long offset = address - region.guestPhysicalAddress();
            if (offset >= 0 && offset + length <= region.memorySize()) {
                return Posix.wrap(region.userspaceAddress() + offset, length);
            }
        }
        return null;
    }

    /**
     * How KVM would treat a guest access to {@code msr}: the caller's filter denies it → exit with reason FILTER
     * if enabled; an MSR KVM does not emulate → exit with reason UNKNOWN if enabled; otherwise 0 (KVM handles it,
     * or injects #GP when it does not know it).
     */
    long exitReason(int msr, int operation, boolean emulatorKnows) {
        long reasons = msrExitReasons;
        if (!msrFilter.allows(msr, operation)) {
            return reasons & VmFd.MSR_EXIT_REASON_FILTER;
        }
        return emulatorKnows ? 0 : reasons & VmFd.MSR_EXIT_REASON_UNKNOWN;
    }

    boolean filterAllows(int msr, int operation) {
        return msrFilter.allows(msr, operation);
    }
}

package io.quarkvm.vmm;

/**
 * Where everything of a built-in guest lives in guest-physical memory; the one place that decides it. All of it
 * sits in the first 2 MiB, which one large page maps 1:1 (virtual = physical), so the smallest VM has 2 MiB.
 *
 * <pre>
 * 0x0000_1000  GDT: null, 64-bit code (selector 0x08), data (selector 0x10)
 * 0x0000_2000  IDT: 256 gates of 16 bytes; only #GP (vector 13) is present
 * 0x0000_3000  PML4 → 0x4000 PDPT → 0x5000 page directory of 2 MiB pages (as many as the memory has, ≤ 1 GiB)
 * 0x0000_6000  boot parameters: what the VMM tells the guest, written before its first instruction
 * 0x0000_7000  the dirtying guest's counters: it writes them, the VMM reads them
 * 0x0000_8000  guest code (≤ 32 KiB), entered at its first byte
 * 0x0001_0000  per-vCPU records, {@value #RECORD_SIZE} bytes each, indexed by cpu_index (≤ 1024 vCPUs)
 * 0x0010_0000  per-vCPU stacks, {@value #STACK_SIZE} bytes each, indexed by cpu_index; RSP starts at the top
 * 0x0020_0000  end of what the VMM uses; the rest of guest memory is free
 * </pre>
 *
 * A probe record (offsets from its start; the probe writes it, the VMM only reads it):
 * <pre>
 *  0 u64 heartbeat          incremented by every turn of the probe's main loop
 *  8 u64 violations         re-checks whose values differed from the first ones
 * 16 u64 gpFaults           #GP taken on RDMSR/WRMSR (counted by the #GP handler, which skips the instruction)
 * 24 u64 firstVpIndex       RDMSR 0x40000002 at boot, -1 when Hyper-V/AccessVpIndex is not advertised
 * 32 u32 firstApicIdLeaf1   CPUID 0x1 EBX[31:24] at boot
 * 36 u32 firstX2ApicIdLeafB CPUID 0xB EDX at boot
 * 40 u32 hypervFound        1 when CPUID said "Microsoft Hv" with AccessVpIndex
 * 44 u32 wrmsrOutcome       0 not tried (no Hyper-V), 1 the WRMSR of 0x40000002 faulted, 2 it was accepted
 * 48 u64 lastVpIndex        values of the latest re-check
 * 56 u32 lastApicIdLeaf1
 * 60 u32 lastX2ApicIdLeafB
 * 64 u32 cpuIndex           the RBX the VMM started the vCPU with (which record is its own)
 * </pre>
 *
 * Boot parameters (offsets from {@link #BOOT_PARAMETERS}; the VMM writes them once, before the guest's first
 * instruction, and never again: a VM that arrives by migration or restore keeps those of the VM it was):
 * <pre>
 *  0 u64 memoryBytes        the size of guest memory
 *  8 u64 tscKhz             the rate of the guest's TSC in kHz (KVM_GET_TSC_KHZ), 0 when the hypervisor gives none
 * </pre>
 *
 * Dirtying counters (offsets from {@link #DIRTYING}; {@link GuestDirtier} writes them on the boot vCPU):
 * <pre>
 *  0 u64 pagesWritten       pages of the working set written so far (one 8-byte word each)
 *  8 u64 lastTsc            the TSC at the start of its latest turn, stored once the pages due by then are written
 * 16 u64 workingSetPages    the pages it rewrites, 0 when it does not dirty (no TSC rate, or no memory above 2 MiB)
 * 24 u64 ticksPerPage       TSC ticks between two pages: tscKhz × 1000 / pages per second
 * </pre>
 */
final class GuestLayout {

    static final long GDT = 0x1000;
    static final long IDT = 0x2000;
    static final long PML4 = 0x3000;
    static final long PDPT = 0x4000;
    static final long PAGE_DIRECTORY = 0x5000;
    static final long BOOT_PARAMETERS = 0x6000;
    static final long DIRTYING = 0x7000;
    static final long CODE = 0x8000;
    static final int CODE_MAX_SIZE = 0x8000;
    static final long RECORDS = 0x1_0000;
    static final int RECORD_SIZE = 128;
    /** log2(RECORD_SIZE): the probe finds its record as RECORDS + (cpu_index << RECORD_SHIFT). */
    static final int RECORD_SHIFT = 7;
    static final long STACKS = 0x10_0000;
    static final int STACK_SIZE = 1024;
    static final int MAX_VCPUS = 1024;
    /** An x86 4 KiB page. */
    static final int PAGE_SIZE = 4096;
    static final long LARGE_PAGE = 2L << 20;
    /** One page directory maps at most 512 large pages. */
    static final long MAX_MAPPED = 512 * LARGE_PAGE;
    static final long MIN_MEMORY = LARGE_PAGE;

    static final int GDT_CODE_SELECTOR = 0x08;
    static final int GDT_DATA_SELECTOR = 0x10;
    static final int IDT_ENTRIES = 256;
    static final int IDT_GATE_SIZE = 16;
    static final int VECTOR_GP = 13;

    // Record fields.
    static final int HEARTBEAT = 0;
    static final int VIOLATIONS = 8;
    static final int GP_FAULTS = 16;
    static final int FIRST_VP_INDEX = 24;
    static final int FIRST_APIC_ID_LEAF1 = 32;
    static final int FIRST_X2APIC_ID_LEAFB = 36;
    static final int HYPERV_FOUND = 40;
    static final int WRMSR_OUTCOME = 44;
    static final int LAST_VP_INDEX = 48;
    static final int LAST_APIC_ID_LEAF1 = 56;
    static final int LAST_X2APIC_ID_LEAFB = 60;
    static final int CPU_INDEX = 64;

    // Boot parameters.
    static final int MEMORY_BYTES = 0;
    static final int TSC_KHZ = 8;

    // Dirtying counters.
    static final int PAGES_WRITTEN = 0;
    static final int LAST_TSC = 8;
    static final int WORKING_SET_PAGES = 16;
    static final int TICKS_PER_PAGE = 24;

    static final int WRMSR_NOT_TRIED = 0;
    static final int WRMSR_FAULTED = 1;
    static final int WRMSR_ACCEPTED = 2;

    static {
        if (RECORDS + (long) MAX_VCPUS * RECORD_SIZE > STACKS || STACKS + (long) MAX_VCPUS * STACK_SIZE > LARGE_PAGE
                || CODE + CODE_MAX_SIZE > RECORDS || 1 << RECORD_SHIFT != RECORD_SIZE
                || PAGE_DIRECTORY + 512 * 8 > BOOT_PARAMETERS || BOOT_PARAMETERS + PAGE_SIZE > DIRTYING
                || DIRTYING + PAGE_SIZE > CODE) {
            throw new AssertionError("guest layout regions overlap");
        }
    }

    private GuestLayout() {
    }

    static long recordOf(int cpuIndex) {
        return RECORDS + (long) cpuIndex * RECORD_SIZE;
    }

    static long stackTopOf(int cpuIndex) {
        return STACKS + (long) (cpuIndex + 1) * STACK_SIZE;
    }
}

package io.quarkvm.emulated;

import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.KvmDtable;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmMpState;
import io.quarkvm.kvm.KvmMsrFilter;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSegment;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.KvmUserspaceMemoryRegion;
import io.quarkvm.kvm.KvmVcpuEvents;
import io.quarkvm.kvm.KvmXsave;
import io.quarkvm.kvm.MsrEntry;
import io.quarkvm.kvm.NativeMapping;
import io.quarkvm.kvm.Posix;
import io.quarkvm.kvm.VcpuExit;
import io.quarkvm.kvm.VmFd;
import io.quarkvm.kvm.XcrEntry;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import jnr.ffi.Pointer;
import jnr.ffi.byref.LongLongByReference;
import jnr.ffi.byref.PointerByReference;

/**
 * One emulated vCPU: a Unicorn engine over the VM's memory slots, created, run and closed on one thread (as KVM
 * wants a vCPU's ioctls), which {@link #run} keeps inside {@code uc_emu_start} in slices of
 * {@value #SLICE_INSTRUCTIONS} instructions until something KVM would exit for happens.
 *
 * <p>How each KVM exit arises. Hooks run on this thread inside the emulator; one that needs the VMM records what
 * it saw and calls {@code uc_emu_stop} (from this thread: from another one it corrupts Unicorn 2.0.1's state), and
 * {@link #run} turns the record into the {@link VcpuExit}; the answer ({@link #answerRdmsr}, {@link #answerIoIn},
 * ...) is applied before the guest goes on, with RIP where KVM would leave it.
 * <ul>
 * <li>OUT / IN: instruction hooks; IN completes when answered.</li>
 * <li>CPUID: an instruction hook answers from the table {@link #setCpuid2} set, without an exit (KVM answers it in
 * the kernel too).</li>
 * <li>RDMSR, WRMSR, HLT: Unicorn 2.0.1 cannot hook them. A block hook scans every block the guest executes for
 * their opcodes (0F 32, 0F 30, F4) and adds a code hook on exactly each address found; such a hook fires only
 * when an instruction starts there, so bytes inside other instructions never count. Every MSR access is then
 * treated as KVM does: denied by the caller's filter, or unknown to the emulator, it exits with reason FILTER or
 * UNKNOWN when the caller enabled that reason, and the guest gets #GP otherwise; the MSRs the emulator keeps
 * itself (EFER, STAR, the segment bases...) are read and written in it.</li>
 * <li>MMIO: a guest access outside every slot stops the emulator at the instruction; when the VMM has answered,
 * the instruction runs once more against a scratch page holding the answer.</li>
 * <li>Exceptions (hooked, or an invalid opcode) are delivered through the guest's IDT ({@link ExceptionDelivery});
 * one the guest cannot take is a shutdown exit (triple fault).</li>
 * </ul>
 * A kick ({@link #requestImmediateExit}) is a level, like kvm_run.immediate_exit: checked before every slice and
 * left set until this thread clears it, so none is lost between two runs.
 */
final class EmulatedVcpu implements HypervisorVcpu {

    /** Instructions per uc_emu_start: how long a kick may wait (4096 instructions are 0.1-0.5 ms emulated). */
    static final long SLICE_INSTRUCTIONS = 4096;
    /** uc_emu_start's "until": an address never reached, so that only the count and the hooks end a slice. */
    private static final long NO_END_ADDRESS = -1L;
    /**
     * Where the first code hook is placed: a non-canonical address, where no instruction can start. Unicorn 2.0.1
     * compiles the only code hook of an engine (the instruction counter, otherwise) as a direct call that does not
     * look at the hook list again, so instruction hooks added later would be missed in blocks translated before;
     * with two code hooks every instruction consults the list as it runs.
     */
    private static final long NEVER_EXECUTED = 0x8000_0000_0000_0000L;
    private static final int PAGE_SIZE = 4096;
    /** KVM's default kvm.tsc_tolerance_ppm; far above the error of the TSC rate measured (tens of ppm). */
    static final int TSC_TOLERANCE_PPM = 250;

    private static final int OPCODE_TWO_BYTE = 0x0F;
    private static final int OPCODE_WRMSR = 0x30;
    private static final int OPCODE_RDMSR = 0x32;
    private static final int OPCODE_HLT = 0xF4;

    /** The MSRs Unicorn's own RDMSR/WRMSR keep (helper_rdmsr in Unicorn 2.0.1): KVM would emulate them too. */
    private static final Set<Integer> EMULATOR_MSRS = Set.of(0x174, 0x175, 0x176, 0x277, 0xC0000080, 0xC0000081,
            0xC0000082, 0xC0000083, 0xC0000084, 0xC0000100, 0xC0000101, 0xC0000102, 0xC0000103);

    /** The registers of struct kvm_regs, in its order, as uc_x86_reg ids. */
    private static final int[] KVM_REGS_ORDER = {Unicorn.X86_REG_RAX, Unicorn.X86_REG_RBX, Unicorn.X86_REG_RCX,
            Unicorn.X86_REG_RDX, Unicorn.X86_REG_RSI, Unicorn.X86_REG_RDI, Unicorn.X86_REG_RSP, Unicorn.X86_REG_RBP,
            Unicorn.X86_REG_R8, Unicorn.X86_REG_R8 + 1, Unicorn.X86_REG_R8 + 2, Unicorn.X86_REG_R8 + 3,
            Unicorn.X86_REG_R8 + 4, Unicorn.X86_REG_R8 + 5, Unicorn.X86_REG_R8 + 6, Unicorn.X86_REG_R15,
            Unicorn.X86_REG_RIP, Unicorn.X86_REG_RFLAGS};
    private static final int[] SEGMENTS = {Unicorn.X86_REG_CS, Unicorn.X86_REG_DS, Unicorn.X86_REG_ES,
            Unicorn.X86_REG_FS, Unicorn.X86_REG_GS, Unicorn.X86_REG_SS};

    private final EmulatedVm vm;
    private final Unicorn unicorn;
    /** Opened by {@link #engine()}; the hooks use it directly, as they run inside it. */
    private Pointer engine;
    private final int apicId;
    private final Pointer value = Posix.allocate(Unicorn.MMR_SIZE);
    private final Pointer batchIds = Posix.allocate(KVM_REGS_ORDER.length * 4);
    private final Pointer batchValues = Posix.allocate(KVM_REGS_ORDER.length * 8);
    private final Pointer batchPointers = Posix.allocate(KVM_REGS_ORDER.length * 8);
    /** JNR holds callbacks weakly: these must live as long as the engine. */
    private final List<Object> callbacks = new ArrayList<>();
    private final Unicorn.CodeHook instructionHook = this::onInstruction;
    private final Set<Long> scannedBlocks = new HashSet<>();
    private final Set<Long> hookedInstructions = new HashSet<>();
    private final ExceptionDelivery.Cpu deliveryView = new DeliveryView();

    private volatile boolean immediateExit;
    private volatile List<CpuidEntry> cpuid = List.of();
    private KvmSregs sregs = initialSregs();
    /**
     * CS, DS, ES, FS, GS, SS as KVM_SET_SREGS gave them and the engine has not loaded yet, or null. KVM_SET_SREGS
     * never reads guest memory, but Unicorn loads a selector's descriptor from the guest's GDT when it is written
     * (and Unicorn 2.0.1 takes the whole process down, SIGSEGV, when that descriptor is not valid): so they are
     * loaded at the next KVM_RUN, by when a VM whose memory arrives after its vCPUs exist (an incoming migration)
     * has its GDT in place.
     */
    private int[] selectorsToLoad;
    private int mpState = KvmMpState.RUNNABLE;
    private boolean closed;

    /** What a hook saw in the current slice, for {@link #run} to act on once uc_emu_start has returned. */
    private Stop stop;
    /** The exit handed to the VMM and waiting for its answer, applied when the guest goes on. */
    private Pending pending;

    private sealed interface Stop {
    }

    private record AtInstruction(long address, int opcode) implements Stop {
    }

    private record PortOut(int port, int size, int data) implements Stop {
    }

    private record PortIn(int port, int size) implements Stop {
    }

    private record Fault(int vector) implements Stop {
    }

    private record Unmapped(int type, long address, int size, long data) implements Stop {
    }

    private record HookFailed(Throwable failure) implements Stop {
    }

    private sealed interface Pending {
    }

    /** An RDMSR or WRMSR at {@code address} handed to the VMM. */
    private static final class MsrAccess implements Pending {
        final long address;
        final boolean read;
        long answer;
        boolean refused;

        MsrAccess(long address, boolean read) {
            this.address = address;
            this.read = read;
        }
    }

    private static final class IoIn implements Pending {
        final int size;
        long answer;

        IoIn(int size) {
            this.size = size;
        }
    }

    private static final class Mmio implements Pending {
        final long address;
        final int size;
        final boolean write;
        long answer;

        Mmio(long address, int size, boolean write) {
            this.address = address;
            this.size = size;
            this.write = write;
        }
    }

    /** Cheap: the engine is opened by the first call that needs it, on the owning thread. */
    EmulatedVcpu(EmulatedVm vm, int apicId) {
        this.vm = vm;
        this.unicorn = vm.unicorn();
        this.apicId = apicId;
    }

    /**
     * The engine, opened on first use. KVM_CREATE_VCPU is cheap and the VMM creates a VM's vCPUs one after the
     * other, while uc_open takes 5-10 ms: opening it here, when the vCPU's own thread first sets it up, lets the
     * vCPUs of a VM open their engines at the same time.
     */
    private Pointer engine() {
        if (engine == null) {
            requireOpen();
            engine = open();
        }
        return engine;
    }

    private Pointer open() {
        PointerByReference handle = new PointerByReference();
        check("uc_open", unicorn.uc_open(Unicorn.ARCH_X86, Unicorn.MODE_64, handle));
        Pointer opened = handle.getValue();
        try {
            for (KvmUserspaceMemoryRegion region : vm.regions()) {
                check("uc_mem_map_ptr", unicorn.uc_mem_map_ptr(opened, region.guestPhysicalAddress(),
                        region.memorySize(), Unicorn.PROT_ALL, region.userspaceAddress()));
            }
            addHooks(opened);
            for (int i = 0; i < KVM_REGS_ORDER.length; i++) {
                batchIds.putInt(i * 4L, KVM_REGS_ORDER[i]);
                batchPointers.putAddress(i * 8L, batchValues.address() + i * 8L);
            }
            return opened;
        } catch (RuntimeException e) {
            unicorn.uc_close(opened);
            callbacks.clear();
            throw e;
        }
    }

    /**
     * The CPUID hook goes first: in Unicorn 2.0.1 a stop pending while another instruction hook registered before it
     * runs makes the emulator skip it and answer CPUID itself.
     */
    private void addHooks(Pointer engine) {
        LongLongByReference handle = new LongLongByReference();
        Unicorn.CpuidHook cpuidHook = (uc, data) -> guarded(1, this::answerCpuid);
        Unicorn.OutHook outHook = (uc, port, size, data, user) -> guarded(0, () -> {
            stopWith(new PortOut(port, size, data));
            return 0;
        });
        Unicorn.InHook inHook = (uc, port, size, user) -> guarded(0, () -> {
            stopWith(new PortIn(port, size));
            return 0;
        });
        Unicorn.InterruptHook interruptHook = (uc, vector, user) -> guarded(0, () -> {
            stopWith(new Fault(vector));
            return 0;
        });
        Unicorn.UnmappedHook unmappedHook = (uc, type, address, size, data, user) -> guarded(0, () -> {
            stopWith(new Unmapped(type, address, size, data));
            return 0;
        }) != 0;
        Unicorn.CodeHook blockHook = (uc, address, size, user) -> guarded(0, () -> {
            scanBlock(address, size);
            return 0;
        });
        callbacks.addAll(List.of(cpuidHook, outHook, inHook, interruptHook, unmappedHook, blockHook, instructionHook));
        check("uc_hook_add(CPUID)", unicorn.uc_hook_add(engine, handle, Unicorn.HOOK_INSN, cpuidHook, null, 1, 0,
                Unicorn.X86_INS_CPUID));
        check("uc_hook_add(OUT)", unicorn.uc_hook_add(engine, handle, Unicorn.HOOK_INSN, outHook, null, 1, 0,
                Unicorn.X86_INS_OUT));
        check("uc_hook_add(IN)", unicorn.uc_hook_add(engine, handle, Unicorn.HOOK_INSN, inHook, null, 1, 0,
                Unicorn.X86_INS_IN));
        check("uc_hook_add(INTR)", unicorn.uc_hook_add(engine, handle, Unicorn.HOOK_INTR, interruptHook, null, 1, 0));
        check("uc_hook_add(MEM_UNMAPPED)", unicorn.uc_hook_add(engine, handle, Unicorn.HOOK_MEM_UNMAPPED,
                unmappedHook, null, 1, 0));
        check("uc_hook_add(BLOCK)", unicorn.uc_hook_add(engine, handle, Unicorn.HOOK_BLOCK, blockHook, null, 1, 0));
        hookInstruction(engine, NEVER_EXECUTED);
    }

    /** Runs a hook body; a failure stops the emulator (Unicorn would swallow it and go on). */
    private int guarded(int onFailure, java.util.function.IntSupplier body) {
        try {
            return body.getAsInt();
        } catch (RuntimeException | Error e) {
            stopWith(new HookFailed(e));
            return onFailure;
        }
    }

    private void stopWith(Stop seen) {
        stop = seen;
        unicorn.uc_emu_stop(engine);
    }

    // ---- instruction discovery -----------------------------------------------------------------------------

    /** Adds a code hook on every RDMSR, WRMSR and HLT opcode in the block that has none yet. */
    private void scanBlock(long address, int size) {
        if (!scannedBlocks.add(address ^ (long) size << 48)) {
            return;
        }
        Pointer code = vm.guestMemory(address, size);
        if (code == null) {
            return; // executing outside RAM ends in an unmapped fetch
        }
        byte[] bytes = new byte[size];
        code.get(0, bytes, 0, size);
        for (int i = 0; i < size; i++) {
            int b = Byte.toUnsignedInt(bytes[i]);
            boolean msr = b == OPCODE_TWO_BYTE && i + 1 < size
                    && (bytes[i + 1] == OPCODE_RDMSR || bytes[i + 1] == OPCODE_WRMSR);
            if ((msr || b == OPCODE_HLT) && hookedInstructions.add(address + i)) {
                hookInstruction(engine, address + i);
            }
        }
    }

    private void hookInstruction(Pointer engine, long address) {
        check("uc_hook_add(CODE)", unicorn.uc_hook_add(engine, new LongLongByReference(), Unicorn.HOOK_CODE,
                instructionHook, null, address, address));
    }

    /** A code hook fired: an instruction starts at a hooked address; stop before it if it is one of ours. */
    private void onInstruction(Pointer uc, long address, int size, Pointer user) {
        try {
            Pointer code = vm.guestMemory(address, 2);
            if (code == null) {
                return;
            }
            int first = Byte.toUnsignedInt(code.getByte(0));
            int second = Byte.toUnsignedInt(code.getByte(1));
            if (first == OPCODE_HLT) {
                stopWith(new AtInstruction(address, OPCODE_HLT));
            } else if (first == OPCODE_TWO_BYTE && (second == OPCODE_RDMSR || second == OPCODE_WRMSR)) {
                stopWith(new AtInstruction(address, second));
            }
        } catch (RuntimeException | Error e) {
            stopWith(new HookFailed(e));
        }
    }

    // ---- KVM_RUN -------------------------------------------------------------------------------------------

    @Override
    public int apicId() {
        return apicId;
    }

    /** KVM_RUN: emulates until an exit, or returns {@link VcpuExit.Interrupted} while a kick is pending. */
    @Override
    public VcpuExit run() {
        requireOpen();
        loadSelectors();
        VcpuExit exit = completePending();
        while (exit == null) {
            if (immediateExit) {
                return new VcpuExit.Interrupted();
            }
            stop = null;
            int error = unicorn.uc_emu_start(engine(), register(Unicorn.X86_REG_RIP), NO_END_ADDRESS, 0,
                    SLICE_INSTRUCTIONS);
            Stop seen = stop;
            stop = null;
            if (seen != null) {
                exit = handle(seen);
            } else if (error == Unicorn.ERR_INSN_INVALID) {
                exit = deliver(ExceptionDelivery.INVALID_OPCODE);
            } else if (error != Unicorn.ERR_OK) {
                exit = emulationFailure(error);
            }
        }
        return exit;
    }

    /** KVM_INTERNAL_ERROR_EMULATION (linux/kvm.h) with the uc_err and RIP as data. */
    private VcpuExit emulationFailure(long error) {
        return new VcpuExit.InternalError(1, List.of(error, register(Unicorn.X86_REG_RIP)));
    }

    /** The exit for what a hook saw, or null when the guest just goes on. */
    private VcpuExit handle(Stop seen) {
        if (seen instanceof PortOut out) {
            return new VcpuExit.Io(true, out.port(), out.size(), 1, Integer.toUnsignedLong(out.data()));
        }
        if (seen instanceof PortIn in) {
            pending = new IoIn(in.size());
            return new VcpuExit.Io(false, in.port(), in.size(), 1, 0);
        }
        if (seen instanceof AtInstruction at) {
            if (at.opcode() == OPCODE_HLT) {
                setRegister(Unicorn.X86_REG_RIP, at.address() + 1);
                return new VcpuExit.Hlt();
            }
            return msrAccess(at.address(), at.opcode() == OPCODE_RDMSR);
        }
        if (seen instanceof Fault fault) {
            return deliver(fault.vector());
        }
        if (seen instanceof Unmapped unmapped) {
            if (unmapped.type() == Unicorn.MEM_FETCH_UNMAPPED) {
                return emulationFailure(Unicorn.ERR_FETCH_UNMAPPED);
            }
            boolean write = unmapped.type() == Unicorn.MEM_WRITE_UNMAPPED;
            pending = new Mmio(unmapped.address(), unmapped.size(), write);
            return new VcpuExit.Mmio(unmapped.address(), write, unmapped.size(), write ? unmapped.data() : 0);
        }
        throw new IllegalStateException("emulator hook failed", ((HookFailed) seen).failure());
    }

    /** RDMSR/WRMSR at {@code address}, RIP there: emulated, handed to the VMM, or #GP, as KVM decides. */
    private VcpuExit msrAccess(long address, boolean read) {
        int index = (int) register(Unicorn.X86_REG_RCX);
        long data = (register(Unicorn.X86_REG_RDX) & 0xFFFF_FFFFL) << 32 | register(Unicorn.X86_REG_RAX) & 0xFFFF_FFFFL;
        boolean emulatorKnows = EMULATOR_MSRS.contains(index);
        long reason = vm.exitReason(index, read ? KvmMsrFilter.READ : KvmMsrFilter.WRITE, emulatorKnows);
        if (reason != 0) {
            pending = new MsrAccess(address, read);
            return read ? new VcpuExit.RdMsr(index, (int) reason) : new VcpuExit.WrMsr(index, (int) reason, data);
        }
        if (!emulatorKnows || !vm.filterAllows(index, read ? KvmMsrFilter.READ : KvmMsrFilter.WRITE)) {
            return deliver(ExceptionDelivery.GENERAL_PROTECTION);
        }
        if (read) {
            setEdxEax(readMsr(index));
        } else {
            writeMsr(index, data);
        }
        setRegister(Unicorn.X86_REG_RIP, address + 2);
        return null;
    }

    /** Applies the VMM's answer to the exit it was given; a shutdown exit if that means a #GP the guest cannot take. */
    private VcpuExit completePending() {
        Pending answered = pending;
        pending = null;
        if (answered instanceof MsrAccess msr) {
            if (msr.refused) {
                return deliver(ExceptionDelivery.GENERAL_PROTECTION);
            }
            if (msr.read) {
                setEdxEax(msr.answer);
            }
            setRegister(Unicorn.X86_REG_RIP, msr.address + 2);
        } else if (answered instanceof IoIn in) {
            long mask = in.size >= 4 ? 0xFFFF_FFFFL : (1L << (in.size * 8)) - 1;
            long rax = in.size >= 4 ? 0 : register(Unicorn.X86_REG_RAX) & ~mask;
            setRegister(Unicorn.X86_REG_RAX, rax | in.answer & mask);
        } else if (answered instanceof Mmio mmio) {
            return replayAgainstScratchPage(mmio);
        }
        return null;
    }

    /**
     * Runs the instruction that touched unbacked memory once more, with a scratch page mapped there: a read finds
     * the VMM's answer in it, a write lands in it and is dropped (the VMM has seen it in the exit).
     */
    private VcpuExit replayAgainstScratchPage(Mmio mmio) {
        long page = mmio.address & -PAGE_SIZE;
        try (NativeMapping scratch = NativeMapping.anonymous(PAGE_SIZE)) {
            int offset = (int) (mmio.address - page);
            if (!mmio.write) {
                for (int i = 0; i < mmio.size && offset + i < PAGE_SIZE; i++) {
                    scratch.pointer().putByte(offset + i, (byte) (mmio.answer >>> (8 * i)));
                }
            }
            check("uc_mem_map_ptr(scratch)", unicorn.uc_mem_map_ptr(engine(), page, PAGE_SIZE, Unicorn.PROT_ALL,
                    scratch.address()));
            stop = null;
            int error = unicorn.uc_emu_start(engine(), register(Unicorn.X86_REG_RIP), NO_END_ADDRESS, 0, 1);
            stop = null;
            check("uc_mem_unmap(scratch)", unicorn.uc_mem_unmap(engine(), page, PAGE_SIZE));
            return error == Unicorn.ERR_OK ? null : emulationFailure(error);
        }
    }

    /** Delivers an exception at the current RIP; the shutdown exit when the guest cannot take it. */
    private VcpuExit deliver(int vector) {
        return ExceptionDelivery.deliver(deliveryView, vector, 0) ? null : new VcpuExit.Shutdown();
    }

    private void setEdxEax(long value) {
        setRegister(Unicorn.X86_REG_RAX, value & 0xFFFF_FFFFL);
        setRegister(Unicorn.X86_REG_RDX, value >>> 32);
    }

    /** Sets or clears the pending kick; any thread may call it. */
    @Override
    public void requestImmediateExit(boolean exit) {
        immediateExit = exit;
    }

    @Override
    public void answerRdmsr(long answer) {
        if (!(pending instanceof MsrAccess msr) || !msr.read) {
            throw new IllegalStateException("no RDMSR exit is waiting for an answer");
        }
        msr.answer = answer;
    }

    @Override
    public void refuseMsrAccess() {
        if (!(pending instanceof MsrAccess msr)) {
            throw new IllegalStateException("no MSR exit is waiting for an answer");
        }
        msr.refused = true;
    }

    @Override
    public void answerIoIn(long answer) {
        if (!(pending instanceof IoIn in)) {
            throw new IllegalStateException("no IN exit is waiting for an answer");
        }
        in.answer = answer;
    }

    @Override
    public void answerMmioRead(long answer) {
        if (!(pending instanceof Mmio mmio) || mmio.write) {
            throw new IllegalStateException("no MMIO read exit is waiting for an answer");
        }
        mmio.answer = answer;
    }

    /** CPUID from the table {@link #setCpuid2} set, as KVM answers it: a leaf it lacks reads as zeros. */
    private int answerCpuid() {
        int leaf = (int) register(Unicorn.X86_REG_RAX);
        int index = (int) register(Unicorn.X86_REG_RCX);
        CpuidEntry found = null;
        for (CpuidEntry entry : cpuid) {
            if (entry.function() == leaf
                    && ((entry.flags() & CpuidEntry.FLAG_SIGNIFICANT_INDEX) == 0 || entry.index() == index)) {
                found = entry;
                break;
            }
        }
        setRegister(Unicorn.X86_REG_RAX, found == null ? 0 : Integer.toUnsignedLong(found.eax()));
        setRegister(Unicorn.X86_REG_RBX, found == null ? 0 : Integer.toUnsignedLong(found.ebx()));
        setRegister(Unicorn.X86_REG_RCX, found == null ? 0 : Integer.toUnsignedLong(found.ecx()));
        setRegister(Unicorn.X86_REG_RDX, found == null ? 0 : Integer.toUnsignedLong(found.edx()));
        return 1;
    }

    // ---- state ---------------------------------------------------------------------------------------------

    @Override
    public KvmRegs getRegs() {
        requireOpen();
        check("uc_reg_read_batch", unicorn.uc_reg_read_batch(engine(), batchIds, batchPointers, KVM_REGS_ORDER.length));
        long[] v = new long[KVM_REGS_ORDER.length];
        batchValues.get(0, v, 0, v.length);
        return KvmRegs.ofValues(v);
    }

    @Override
    public void setRegs(KvmRegs regs) {
        requireOpen();
        long[] v = regs.values();
        batchValues.put(0, v, 0, v.length);
        check("uc_reg_write_batch", unicorn.uc_reg_write_batch(engine(), batchIds, batchPointers, v.length));
    }

    /**
     * KVM_GET_SREGS: control registers, EFER, GDTR, IDTR and selectors as the emulator holds them; the hidden
     * parts of the segment registers (which Unicorn does not expose) as last set.
     */
    @Override
    public KvmSregs getSregs() {
        requireOpen();
        KvmSregs live = copy(sregs);
        KvmSegment[] segments = {live.cs, live.ds, live.es, live.fs, live.gs, live.ss};
        for (int i = 0; i < SEGMENTS.length; i++) {
            segments[i].selector = selectorsToLoad != null ? selectorsToLoad[i]
                    : (int) register(SEGMENTS[i]) & 0xFFFF;
        }
        live.cr0 = register(Unicorn.X86_REG_CR0);
        live.cr2 = register(Unicorn.X86_REG_CR2);
        live.cr3 = register(Unicorn.X86_REG_CR3);
        live.cr4 = register(Unicorn.X86_REG_CR4);
        live.efer = readMsr(MSR_EFER);
        live.gdt = readTable(Unicorn.X86_REG_GDTR);
        live.idt = readTable(Unicorn.X86_REG_IDTR);
        return live;
    }

    /**
     * KVM_SET_SREGS: descriptor tables first, then control registers and EFER; the selectors are loaded at the next
     * KVM_RUN ({@link #selectorsToLoad}).
     */
    @Override
    public void setSregs(KvmSregs next) {
        requireOpen();
        writeTable(Unicorn.X86_REG_GDTR, next.gdt);
        writeTable(Unicorn.X86_REG_IDTR, next.idt);
        setRegister(Unicorn.X86_REG_CR0, next.cr0);
        setRegister(Unicorn.X86_REG_CR2, next.cr2);
        setRegister(Unicorn.X86_REG_CR3, next.cr3);
        setRegister(Unicorn.X86_REG_CR4, next.cr4);
        writeMsr(MSR_EFER, next.efer);
        selectorsToLoad = new int[] {next.cs.selector, next.ds.selector, next.es.selector, next.fs.selector,
                next.gs.selector, next.ss.selector};
        sregs = copy(next);
    }

    /** Loads the selectors KVM_SET_SREGS gave into the engine, which reads their descriptors from the guest's GDT. */
    private void loadSelectors() {
        if (selectorsToLoad == null) {
            return;
        }
        for (int i = 0; i < SEGMENTS.length; i++) {
            setRegister(SEGMENTS[i], selectorsToLoad[i]);
        }
        selectorsToLoad = null;
    }

    private static final int MSR_EFER = 0xC0000080;

    @Override
    public void setCpuid2(List<CpuidEntry> entries) {
        requireOpen();
        cpuid = List.copyOf(entries);
    }

    @Override
    public List<CpuidEntry> getCpuid2() {
        requireOpen();
        return cpuid;
    }

    /** KVM_GET_MSRS: the MSRs the emulator keeps, in order, stopping at the first it does not. */
    @Override
    public List<MsrEntry> getMsrs(int... indices) {
        requireOpen();
        List<MsrEntry> read = new ArrayList<>();
        for (int index : indices) {
            if (!EMULATOR_MSRS.contains(index)) {
                break;
            }
            read.add(new MsrEntry(index, readMsr(index)));
        }
        return read;
    }

    /** KVM_SET_MSRS: how many entries, in order, were set (it stops at the first MSR the emulator does not keep). */
    @Override
    public int setMsrs(List<MsrEntry> entries) {
        requireOpen();
        int set = 0;
        for (MsrEntry entry : entries) {
            if (!EMULATOR_MSRS.contains(entry.index())) {
                break;
            }
            writeMsr(entry.index(), entry.data());
            set++;
        }
        return set;
    }

    /**
     * KVM_GET_FPU from the emulator's x87 and SSE registers: fpr[i] is ST(i), relative to the TOP of the status
     * word, as in KVM's fxsave format; the tag bits are per physical register. The last opcode and operand
     * pointers read 0: the emulated backend does not carry them.
     */
    @Override
    public KvmFpu getFpu() {
        requireOpen();
        KvmFpu fpu = new KvmFpu();
        for (int i = 0; i < KvmFpu.X87_REGISTERS; i++) {
            readBytes(Unicorn.X86_REG_ST0 + i, fpu.fpr, i * KvmFpu.REGISTER_BYTES, X87_REGISTER_BYTES);
        }
        for (int i = 0; i < KvmFpu.XMM_REGISTERS; i++) {
            readBytes(Unicorn.X86_REG_XMM0 + i, fpu.xmm, i * KvmFpu.REGISTER_BYTES, KvmFpu.REGISTER_BYTES);
        }
        fpu.fcw = (int) register(Unicorn.X86_REG_FPCW) & 0xFFFF;
        fpu.fsw = (int) register(Unicorn.X86_REG_FPSW) & 0xFFFF;
        int tags = (int) register(Unicorn.X86_REG_FPTAG);
        for (int i = 0; i < KvmFpu.X87_REGISTERS; i++) {
            if ((tags >>> 2 * i & TAG_EMPTY) != TAG_EMPTY) {
                fpu.ftwx |= 1 << i;
            }
        }
        fpu.mxcsr = (int) register(Unicorn.X86_REG_MXCSR);
        return fpu;
    }

    /** KVM_SET_FPU into the emulator's x87 and SSE registers (see {@link #getFpu}). */
    @Override
    public void setFpu(KvmFpu fpu) {
        requireOpen();
        setRegister(Unicorn.X86_REG_FPSW, fpu.fsw); // first: its TOP decides which register ST(i) is
        for (int i = 0; i < KvmFpu.X87_REGISTERS; i++) {
            writeBytes(Unicorn.X86_REG_ST0 + i, fpu.fpr, i * KvmFpu.REGISTER_BYTES, X87_REGISTER_BYTES);
        }
        for (int i = 0; i < KvmFpu.XMM_REGISTERS; i++) {
            writeBytes(Unicorn.X86_REG_XMM0 + i, fpu.xmm, i * KvmFpu.REGISTER_BYTES, KvmFpu.REGISTER_BYTES);
        }
        setRegister(Unicorn.X86_REG_FPCW, fpu.fcw);
        int tags = 0;
        for (int i = 0; i < KvmFpu.X87_REGISTERS; i++) {
            if ((fpu.ftwx & 1 << i) == 0) {
                tags |= TAG_EMPTY << 2 * i;
            }
        }
        setRegister(Unicorn.X86_REG_FPTAG, tags);
        setRegister(Unicorn.X86_REG_MXCSR, Integer.toUnsignedLong(fpu.mxcsr));
    }

    /** An x87 register as the emulator reads and writes it: the 80-bit extended format. */
    private static final int X87_REGISTER_BYTES = 10;
    /** The full tag word's two bits of an empty register (the abridged one has a single "not empty" bit). */
    private static final int TAG_EMPTY = 3;

    private void readBytes(int id, byte[] into, int offset, int length) {
        value.put(0, new byte[KvmFpu.REGISTER_BYTES], 0, KvmFpu.REGISTER_BYTES);
        check("uc_reg_read", unicorn.uc_reg_read(engine(), id, value));
        value.get(0, into, offset, length);
    }

    private void writeBytes(int id, byte[] from, int offset, int length) {
        value.put(0, new byte[KvmFpu.REGISTER_BYTES], 0, KvmFpu.REGISTER_BYTES);
        value.put(0, from, offset, length);
        check("uc_reg_write", unicorn.uc_reg_write(engine(), id, value));
    }

    /**
     * KVM_GET_XSAVE: the emulated CPU has no XSAVE (its CPUID.1:ECX.XSAVE[26] is 0) and keeps x87 and SSE state
     * only, so the area is the legacy one from {@link #getFpu}, XSTATE_BV x87 | SSE.
     */
    @Override
    public Optional<KvmXsave> getXsave() {
        return Optional.of(KvmXsave.ofLegacyState(getFpu()));
    }

    /**
     * KVM_SET_XSAVE of x87 and SSE state (see {@link #getXsave}).
     *
     * @throws UnsupportedOperationException XSTATE_BV names another component (AVX...), which the emulator cannot
     *                                       hold
     */
    @Override
    public void setXsave(KvmXsave xsave) {
        long beyondSse = xsave.xstateBv() & ~(KvmXsave.X87 | KvmXsave.SSE);
        if (beyondSse != 0) {
            throw new UnsupportedOperationException(String.format("the emulated vCPU keeps x87 and SSE state "
                    + "only, not the XSAVE components 0x%x", beyondSse));
        }
        setFpu(xsave.legacyState());
    }

    /** KVM_GET_XCRS: none, the emulated CPU has no XSAVE, and Unicorn 2.0.1 exposes no XCR0 (unicorn/x86.h). */
    @Override
    public Optional<List<XcrEntry>> getXcrs() {
        requireOpen();
        return Optional.empty();
    }

    /** @throws UnsupportedOperationException always: see {@link #getXcrs} */
    @Override
    public void setXcrs(List<XcrEntry> xcrs) {
        throw new UnsupportedOperationException("the emulated vCPU has no XCRs (its CPU has no XSAVE)");
    }

    /**
     * KVM_GET_VCPU_EVENTS: none pending, ever, between two runs. An exception is delivered through the IDT inside
     * {@link #run} before it returns, and no interrupt, NMI or SMI is ever injected into the emulated backend (no
     * APIC), so neither is an interrupt shadow of any consequence. The flags say the NMI, shadow and SMM parts are
     * valid, as KVM's do.
     */
    @Override
    public Optional<KvmVcpuEvents> getVcpuEvents() {
        requireOpen();
        KvmVcpuEvents none = new KvmVcpuEvents();
        none.flags = KvmVcpuEvents.VALID_NMI_PENDING | KvmVcpuEvents.VALID_SHADOW | KvmVcpuEvents.VALID_SMM;
        return Optional.of(none);
    }

    /** @throws UnsupportedOperationException an event is pending or held back, which the emulator cannot take */
    @Override
    public void setVcpuEvents(KvmVcpuEvents events) {
        requireOpen();
        if (!events.nonePending()) {
            throw new UnsupportedOperationException("the emulated vCPU cannot take a pending exception, interrupt, "
                    + "NMI or SMI, an interrupt shadow, masked NMIs or SMM");
        }
    }

    /**
     * KVM_GET_TSC_KHZ: the host's TSC rate, which the guest's RDTSC reads directly (Unicorn gives the host's TSC;
     * measured once per process, see {@link EmulatedHypervisor#measureTscKhz}). The emulator has no IA32_TSC to
     * carry, nor an offset to set.
     */
    @Override
    public OptionalInt getTscKhz() {
        requireOpen();
        return OptionalInt.of(vm.tscKhz());
    }

    /**
     * KVM_SET_TSC_KHZ: the rate cannot change, the guest reads the host's TSC; a rate within
     * {@value #TSC_TOLERANCE_PPM} ppm of the one measured is taken as that same rate (as KVM without TSC scaling
     * takes one within kvm.tsc_tolerance_ppm of the host's): another process's measurement of this host's TSC, or
     * a host whose TSC runs that close to it.
     *
     * @throws UnsupportedOperationException any other rate
     */
    @Override
    public void setTscKhz(int khz) {
        requireOpen();
        if (Math.abs((long) khz - vm.tscKhz()) * 1_000_000 > (long) TSC_TOLERANCE_PPM * vm.tscKhz()) {
            throw new UnsupportedOperationException("the emulated vCPU reads the host's TSC, which runs at "
                    + vm.tscKhz() + " kHz, not " + khz);
        }
    }

    /** KVM_GET_MP_STATE: without an in-kernel APIC the state is only what was set (HLT exits to the VMM). */
    @Override
    public int getMpState() {
        requireOpen();
        return mpState;
    }

    @Override
    public void setMpState(int state) {
        requireOpen();
        mpState = state;
    }

    /** KVM_SET_SIGNAL_MASK: nothing to do, the emulator never waits in the kernel; kicks are a flag. */
    @Override
    public void setSignalMask(long kernelSigset) {
        requireOpen();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (engine != null) {
            unicorn.uc_close(engine);
            engine = null;
        }
        callbacks.clear(); // only now may the callbacks go
    }

    @Override
    public String toString() {
        return "emulated vCPU " + apicId;
    }

    // ---- registers -----------------------------------------------------------------------------------------

    long register(int id) {
        value.putLongLong(0, 0);
        check("uc_reg_read", unicorn.uc_reg_read(engine(), id, value));
        return value.getLongLong(0);
    }

    void setRegister(int id, long newValue) {
        value.putLongLong(0, newValue);
        check("uc_reg_write", unicorn.uc_reg_write(engine(), id, value));
    }

    private long readMsr(int index) {
        value.putInt(Unicorn.MSR_RID, index);
        value.putLongLong(Unicorn.MSR_VALUE, 0);
        check("uc_reg_read(MSR)", unicorn.uc_reg_read(engine(), Unicorn.X86_REG_MSR, value));
        return value.getLongLong(Unicorn.MSR_VALUE);
    }

    private void writeMsr(int index, long data) {
        value.putInt(Unicorn.MSR_RID, index);
        value.putLongLong(Unicorn.MSR_VALUE, data);
        check("uc_reg_write(MSR)", unicorn.uc_reg_write(engine(), Unicorn.X86_REG_MSR, value));
    }

    private KvmDtable readTable(int id) {
        check("uc_reg_read(table)", unicorn.uc_reg_read(engine(), id, value));
        KvmDtable table = new KvmDtable();
        table.base = value.getLongLong(Unicorn.MMR_BASE);
        table.limit = value.getInt(Unicorn.MMR_LIMIT) & 0xFFFF;
        return table;
    }

    private void writeTable(int id, KvmDtable table) {
        value.putLongLong(0, 0);
        value.putLongLong(Unicorn.MMR_BASE, table.base);
        value.putInt(Unicorn.MMR_LIMIT, table.limit);
        value.putInt(Unicorn.MMR_LIMIT + 4, 0);
        check("uc_reg_write(table)", unicorn.uc_reg_write(engine(), id, value));
    }

    private void check(String call, int error) {
        EmulatedHypervisor.check(unicorn, call, error);
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    /** The guest's view for exception delivery. */
    private final class DeliveryView implements ExceptionDelivery.Cpu {
        @Override
        public long register(int id) {
            return EmulatedVcpu.this.register(id);
        }

        @Override
        public void setRegister(int id, long newValue) {
            EmulatedVcpu.this.setRegister(id, newValue);
        }

        @Override
        public long[] idt() {
            KvmDtable idt = readTable(Unicorn.X86_REG_IDTR);
            return new long[] {idt.base, idt.limit};
        }

        @Override
        public Pointer memory(long address, int length) {
            return vm.guestMemory(address, length);
        }
    }

    private static KvmSregs initialSregs() {
        KvmSregs initial = new KvmSregs();
        initial.cs = new KvmSegment();
        initial.ds = new KvmSegment();
        initial.es = new KvmSegment();
        initial.fs = new KvmSegment();
        initial.gs = new KvmSegment();
        initial.ss = new KvmSegment();
        initial.tr = new KvmSegment();
        initial.ldt = new KvmSegment();
        initial.gdt = new KvmDtable();
        initial.idt = new KvmDtable();
        return initial;
    }

    private static KvmSregs copy(KvmSregs from) {
        KvmSregs to = initialSregs();
        KvmSegment[][] pairs = {{from.cs, to.cs}, {from.ds, to.ds}, {from.es, to.es}, {from.fs, to.fs},
                {from.gs, to.gs}, {from.ss, to.ss}, {from.tr, to.tr}, {from.ldt, to.ldt}};
        for (KvmSegment[] pair : pairs) {
            copySegment(pair[0], pair[1]);
        }
        to.gdt.base = from.gdt.base;
        to.gdt.limit = from.gdt.limit;
        to.idt.base = from.idt.base;
        to.idt.limit = from.idt.limit;
        to.cr0 = from.cr0;
        to.cr2 = from.cr2;
        to.cr3 = from.cr3;
        to.cr4 = from.cr4;
        to.cr8 = from.cr8;
        to.efer = from.efer;
        to.apicBase = from.apicBase;
        return to;
    }

    private static void copySegment(KvmSegment from, KvmSegment to) {
        if (from == null) {
            return;
        }
        to.base = from.base;
        to.limit = from.limit;
        to.selector = from.selector;
        to.type = from.type;
        to.present = from.present;
        to.dpl = from.dpl;
        to.db = from.db;
        to.s = from.s;
        to.l = from.l;
        to.g = from.g;
        to.avl = from.avl;
        to.unusable = from.unusable;
    }
}

package io.quarkvm.vmm;

import static io.quarkvm.vmm.X86Assembler.Reg.RAX;
import static io.quarkvm.vmm.X86Assembler.Reg.RBX;
import static io.quarkvm.vmm.X86Assembler.Reg.RCX;
import static io.quarkvm.vmm.X86Assembler.Reg.RSP;
import static io.quarkvm.vmm.X86Assembler.Reg.R15;

import io.quarkvm.vmm.X86Assembler.Label;
import java.util.OptionalInt;

/**
 * Machine code the VMM loads at {@link GuestLayout#CODE} and starts every vCPU at, in 64-bit mode with the page
 * tables, GDT and IDT of {@link GuestLayout}, RSP at the vCPU's stack top and RBX = its cpu_index.
 *
 * @param gpHandlerOffset where in the code the #GP handler starts; the VMM points IDT vector 13 at it. Empty: no
 *                        vector is present, so any exception ends in a triple fault.
 */
public record GuestProgram(String name, byte[] code, OptionalInt gpHandlerOffset) {

    /** Turns of the probe's main loop between two re-checks of its identity (as many heartbeats). */
    public static final long PROBE_RECHECK_INTERVAL = GuestProbe.RECHECK_INTERVAL;

    public GuestProgram {
        if (code.length > GuestLayout.CODE_MAX_SIZE) {
            throw new IllegalArgumentException(name + " is " + code.length + " bytes, more than "
                    + GuestLayout.CODE_MAX_SIZE);
        }
        code = code.clone();
    }

    @Override
    public byte[] code() {
        return code.clone();
    }

    /** The identity probe: see {@link GuestProbe}. */
    public static GuestProgram probe() {
        return GuestProbe.program();
    }

    /**
     * The probe, whose boot vCPU (cpu_index 0) also rewrites one word in each 4 KiB page of a 64 MiB working set from
     * 2 MiB (all memory above 2 MiB when there is less) at 64 MiB a second, paced by the TSC at the rate the VMM
     * gives it, and counts the pages written ({@link VirtualMachine#dirtyingCounters}): a guest that dirties memory
     * at a known rate, for migrations. See {@link GuestDirtier}.
     */
    public static GuestProgram dirtyMemory() {
        return GuestProbe.dirtyingProgram();
    }

    /** The probe spinning instead of halting: for tests of kicks out of a vCPU that stays inside KVM_RUN. */
    static GuestProgram busyProbe() {
        return GuestProbe.busyProgram();
    }

    /**
     * A guest that keeps writing memory, as a busy OS does, for migration tests: each vCPU increments the first
     * quadword of every one of {@code workingSetPages} pages from 2 MiB (above everything of {@link GuestLayout}), in
     * turn, then its heartbeat (the first field of its probe record), and starts over, never halting. The VM needs
     * 2 MiB more memory than the working set.
     */
    public static GuestProgram dirtying(int workingSetPages) {
        if (workingSetPages < 1 || (long) workingSetPages * 4096 > GuestLayout.MAX_MAPPED - GuestLayout.LARGE_PAGE) {
            throw new IllegalArgumentException("the working set must be 1 page to 1 GiB - 2 MiB: " + workingSetPages);
        }
        X86Assembler asm = new X86Assembler();
        Label pass = new Label();
        Label nextPage = new Label();
        asm.mov(R15, RBX);                                 // r15 = cpu_index (from the VMM)
        asm.shl(R15, GuestLayout.RECORD_SHIFT);            // r15 *= RECORD_SIZE
        asm.add(R15, (int) GuestLayout.RECORDS);           // r15 = this vCPU's record
        asm.bind(pass);
        asm.movImm32(RAX, (int) GuestLayout.LARGE_PAGE);   // rax = the working set's first page
        asm.movImm32(RCX, workingSetPages);                // rcx = pages to write
        asm.bind(nextPage);
        asm.incQword(RAX, 0);                              // dirty the page
        asm.add(RAX, 4096);                                // next page
        asm.add(RCX, -1);                                  // one fewer to go (sets ZF at zero)
        asm.jne(nextPage);
        asm.incQword(R15, GuestLayout.HEARTBEAT);          // a whole pass: one heartbeat
        asm.jmp(pass);
        return new GuestProgram("dirtying-" + workingSetPages, asm.assemble(), OptionalInt.empty());
    }

    /**
     * A guest that triple-faults at once: it loads an IDT of limit 0 and executes UD2, so the #UD cannot be
     * delivered (#GP), nor that (#DF), and the CPU shuts down: KVM_EXIT_SHUTDOWN.
     */
    public static GuestProgram tripleFault() {
        X86Assembler asm = new X86Assembler();
        asm.xor32(RAX, RAX);   // rax = 0
        asm.push(RAX);         // 16 zero bytes on the stack:
        asm.push(RAX);         //   an IDTR with limit 0, base 0
        asm.lidt(RSP, 0);      // lidt [rsp]
        asm.ud2();             // #UD → #GP → #DF → shutdown
        return new GuestProgram("triple-fault", asm.assemble(), OptionalInt.empty());
    }
}

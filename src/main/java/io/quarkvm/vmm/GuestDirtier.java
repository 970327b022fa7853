package io.quarkvm.vmm;

import static io.quarkvm.vmm.GuestLayout.BOOT_PARAMETERS;
import static io.quarkvm.vmm.GuestLayout.CPU_INDEX;
import static io.quarkvm.vmm.GuestLayout.DIRTYING;
import static io.quarkvm.vmm.GuestLayout.LAST_TSC;
import static io.quarkvm.vmm.GuestLayout.MEMORY_BYTES;
import static io.quarkvm.vmm.GuestLayout.PAGES_WRITTEN;
import static io.quarkvm.vmm.GuestLayout.PAGE_SIZE;
import static io.quarkvm.vmm.GuestLayout.TICKS_PER_PAGE;
import static io.quarkvm.vmm.GuestLayout.TSC_KHZ;
import static io.quarkvm.vmm.GuestLayout.WORKING_SET_PAGES;
import static io.quarkvm.vmm.X86Assembler.Reg.R10;
import static io.quarkvm.vmm.X86Assembler.Reg.R11;
import static io.quarkvm.vmm.X86Assembler.Reg.R12;
import static io.quarkvm.vmm.X86Assembler.Reg.R15;
import static io.quarkvm.vmm.X86Assembler.Reg.R8;
import static io.quarkvm.vmm.X86Assembler.Reg.R9;
import static io.quarkvm.vmm.X86Assembler.Reg.RAX;
import static io.quarkvm.vmm.X86Assembler.Reg.RCX;
import static io.quarkvm.vmm.X86Assembler.Reg.RDI;
import static io.quarkvm.vmm.X86Assembler.Reg.RDX;

import io.quarkvm.vmm.X86Assembler.Label;

/**
 * The part of the {@code dirty-memory} guest that writes memory at a known rate, woven into the probe's code
 * ({@link GuestProbe}) so that every vCPU still reports, heartbeats and re-checks its identity: the boot vCPU
 * (cpu_index 0), once its identity report is complete, rewrites one 8-byte word (an increment) in each 4 KiB page
 * of a working set of {@value #MAX_WORKING_SET_MIB} MiB from {@link #WORKING_SET_START} (above everything of
 * {@link GuestLayout}), page after page, round robin, at {@value #PAGES_PER_SECOND} pages (64 MiB) a second. A VM
 * with less than {@value #MAX_WORKING_SET_MIB} MiB above 2 MiB rewrites all it has there at the same rate; one of
 * 2 MiB writes nothing.
 *
 * <p>Pacing, with integer instructions only (x87/SSE in a guest end the VM on the PVM hosts here): the VMM puts the
 * TSC's rate in the boot parameters ({@link GuestLayout#TSC_KHZ}); page n is due {@code n × ticksPerPage} TSC ticks
 * after the start, {@code ticksPerPage = tscKhz × 1000 / PAGES_PER_SECOND}. Every turn of the probe's main loop
 * writes the pages that are due by RDTSC, then the probe halts until the next tick as it always does: so the rate
 * holds over any span longer than a tick (10 ms, more for a VM of many slots), in bursts of a tick's worth. A
 * backlog of more than a second (the VM was paused, or its TSC jumped forward on another host) is dropped, and a
 * deadline more than a second ahead (the TSC jumped back) is moved to now: the guest goes on at its rate from then,
 * without a burst or a stall. Without a TSC rate it writes nothing.
 *
 * <p>Registers, besides the probe's (which leaves these alone): RDI = {@link GuestLayout#DIRTYING}, R8 = end of the
 * working set, R9 = a second of TSC ticks, R10 = ticks per page (0 on every vCPU that does not dirty, which skips
 * the turn), R11 = when the next page is due (TSC), R12 = the next page. They are the guest's state: a migration
 * carries them with the vCPU.
 */
final class GuestDirtier {

    static final long WORKING_SET_START = GuestLayout.LARGE_PAGE;
    static final int MAX_WORKING_SET_MIB = 64;
    /** 64 MiB a second; a power of two, so that the ticks per page are a shift away. */
    static final int PAGES_PER_SECOND = 16384;
    private static final int PAGES_PER_SECOND_SHIFT = Integer.numberOfTrailingZeros(PAGES_PER_SECOND);

    static {
        if (Integer.bitCount(PAGES_PER_SECOND) != 1 || PAGE_SIZE != 1 << 12) {
            throw new AssertionError("the pacing needs a power-of-two rate and 4 KiB pages");
        }
    }

    private final Label turn = new Label();

    /**
     * After the identity report, on every vCPU: the boot vCPU computes its working set and pacing from the boot
     * parameters, stores them in the counters and starts the clock (R10 ≠ 0); any other vCPU only clears R10.
     */
    void emitStart(X86Assembler asm) {
        Label done = new Label();
        Label endChosen = new Label();
        Label rateKnown = new Label();
        Label begin = new Label();
        asm.xor32(R10, R10);                                        // r10 = 0: this vCPU does not dirty ...
        asm.cmpDwordImm(R15, CPU_INDEX, 0);                         // ... unless it is the boot vCPU
        asm.jne(done);
        asm.movImm32(RDI, (int) DIRTYING);                          // rdi = the counters
        asm.movImm32(RAX, (int) BOOT_PARAMETERS);
        asm.loadQword(RCX, RAX, MEMORY_BYTES);                      // rcx = memory size
        asm.loadQword(RDX, RAX, TSC_KHZ);                           // rdx = TSC kHz
        asm.imul(R9, RDX, 1000);                                    // r9 = TSC ticks in a second
        asm.mov(R10, R9);
        asm.shr(R10, PAGES_PER_SECOND_SHIFT);                       // r10 = ticks per page
        asm.movImm32(R8, (int) (WORKING_SET_START + ((long) MAX_WORKING_SET_MIB << 20))); // r8 = working set end
        asm.cmp(RCX, R8);                                           // memory ends before it?
        asm.jae(endChosen);
        asm.mov(R8, RCX);                                           //   then it ends with memory
        asm.bind(endChosen);
        asm.mov(RAX, R8);
        asm.add(RAX, (int) -WORKING_SET_START);
        asm.shr(RAX, 12);                                           // rax = pages in the working set
        asm.test32(R10, R10);                                       // a TSC rate to pace with?
        asm.jne(rateKnown);
        asm.xor32(RAX, RAX);                                        //   no: nothing is written
        asm.bind(rateKnown);
        asm.storeQword(RDI, WORKING_SET_PAGES, RAX);                // counters.workingSetPages = rax
        asm.storeQword(RDI, TICKS_PER_PAGE, R10);                   // counters.ticksPerPage = r10
        asm.test32(RAX, RAX);
        asm.jne(begin);
        asm.xor32(R10, R10);                                        // no working set: no dirtying turns
        asm.jmp(done);
        asm.bind(begin);
        asm.movImm32(R12, (int) WORKING_SET_START);                 // r12 = the first page
        readTsc(asm);
        asm.mov(R11, RAX);                                          // r11 = the first page is due now
        asm.bind(done);
    }

    /** In the probe's main loop, before it halts: the pages due, on the vCPU that dirties. */
    void emitTurnCall(X86Assembler asm) {
        Label skip = new Label();
        asm.test32(R10, R10);                                       // this vCPU dirties?
        asm.je(skip);
        asm.call(turn);
        asm.bind(skip);
    }

    /** The subroutine {@link #emitTurnCall} calls: writes every page due by now; clobbers RAX, RCX, RDX. */
    void emitTurn(X86Assembler asm) {
        Label nextPage = new Label();
        Label inWorkingSet = new Label();
        Label resynchronize = new Label();
        Label done = new Label();
        asm.bind(turn);
        readTsc(asm);                                               // rax = now
        asm.mov(RCX, RAX);
        asm.sub(RCX, R11);
        asm.add(RCX, R9);                                           // rcx = now - due + 1 s
        asm.mov(RDX, R9);
        asm.add(RDX, R9);                                           // rdx = 2 s
        asm.cmp(RCX, RDX);                                          // due more than 1 s ago or ahead (unsigned)?
        asm.ja(resynchronize);
        asm.bind(nextPage);
        asm.cmp(R11, RAX);                                          // the next page not due yet?
        asm.ja(done);
        asm.incQword(R12, 0);                                       // rewrite the page's first word
        asm.add(R12, PAGE_SIZE);
        asm.cmp(R12, R8);                                           // past the working set?
        asm.jb(inWorkingSet);
        asm.movImm32(R12, (int) WORKING_SET_START);                 //   start over
        asm.bind(inWorkingSet);
        asm.incQword(RDI, PAGES_WRITTEN);                           // counters.pagesWritten++
        asm.add(R11, R10);                                          // the next page is due one interval later
        asm.jmp(nextPage);
        asm.bind(resynchronize);
        asm.mov(R11, RAX);                                          // go on at the rate from now
        asm.jmp(nextPage);
        asm.bind(done);
        asm.storeQword(RDI, LAST_TSC, RAX);                         // counters.lastTsc = now, its pages written
        asm.ret();
    }

    /** rax = the TSC (RDTSC clears the upper halves of RAX and RDX in 64-bit mode); clobbers RDX. */
    private static void readTsc(X86Assembler asm) {
        asm.rdtsc();
        asm.shl(RDX, 32);
        asm.or(RAX, RDX);
    }
}

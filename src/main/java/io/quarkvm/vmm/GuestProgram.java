package io.quarkvm.vmm;

import static io.quarkvm.vmm.X86Assembler.Reg.RAX;
import static io.quarkvm.vmm.X86Assembler.Reg.RSP;

import java.util.OptionalInt;

/**
 * Machine code the VMM loads at {@link GuestLayout#CODE} and starts every vCPU at, in 64-bit mode with the page
 * tables, GDT and IDT of {@link GuestLayout}, RSP at the vCPU's stack top and RBX = its cpu_index.
 *
 * @param gpHandlerOffset where in the code the #GP handler starts; the VMM points IDT vector 13 at it. Empty: no
 *                        vector is present, so any exception ends in a triple fault.
 */
public record GuestProgram(String name, byte[] code, OptionalInt gpHandlerOffset) {

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

    /** The probe spinning instead of halting: for tests of kicks out of a vCPU that stays inside KVM_RUN. */
    static GuestProgram busyProbe() {
        return GuestProbe.busyProgram();
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

package io.quarkvm.emulated;

import jnr.ffi.Pointer;

/**
 * Delivers an exception to the guest through its IDT, as the CPU would in 64-bit mode (Intel SDM vol. 3, 6.14):
 * Unicorn reports exceptions to a hook instead of delivering them. The frame (SS, RSP, RFLAGS, CS, RIP and, for
 * the vectors that have one, an error code) goes on the current stack aligned to 16 bytes (IST stacks are not
 * supported), RIP and CS come from the gate, and an interrupt gate clears IF. A gate that is missing or beyond the
 * IDT limit turns the exception into #GP, a contributory fault during delivery into #DF, and a #DF that cannot be
 * delivered into a shutdown (triple fault). Guest addresses are taken as physical: Unicorn 2.0.1 does the same,
 * so only identity-mapped guests run on this backend anyway.
 */
final class ExceptionDelivery {

    static final int DIVIDE_ERROR = 0;
    static final int INVALID_OPCODE = 6;
    static final int DOUBLE_FAULT = 8;
    static final int GENERAL_PROTECTION = 13;

    private static final int GATE_SIZE = 16;
    private static final int GATE_PRESENT = 0x80;
    private static final int GATE_TYPE_MASK = 0x0F;
    private static final int INTERRUPT_GATE = 0xE;
    private static final int TRAP_GATE = 0xF;
    /** An error code's IDT bit: the fault was on an IDT gate (SDM vol. 3, 6.13). */
    private static final long ERROR_CODE_IDT = 1 << 1;
    private static final long RFLAGS_TF = 1 << 8;
    private static final long RFLAGS_IF = 1 << 9;
    private static final long RFLAGS_NT = 1 << 14;
    private static final long RFLAGS_RF = 1 << 16;

    /** The registers delivery reads and changes, and the memory it reaches. */
    interface Cpu {
        long register(int id);

        void setRegister(int id, long value);

        /** IDTR base and limit. */
        long[] idt();

        /** Host memory behind guest [address, address + length), or null. */
        Pointer memory(long address, int length);
    }

    private ExceptionDelivery() {
    }

    /** Delivers {@code vector} with the guest at the faulting RIP; false when the CPU shuts down instead. */
    static boolean deliver(Cpu cpu, int vector, long errorCode) {
        int current = vector;
        long code = errorCode;
        while (!tryDeliver(cpu, current, code)) {
            if (current == DOUBLE_FAULT) {
                return false;
            }
            if (contributory(current)) {
                current = DOUBLE_FAULT;
                code = 0;
            } else {
                code = (long) current << 3 | ERROR_CODE_IDT;
                current = GENERAL_PROTECTION;
            }
        }
        return true;
    }

    /** #DE, #TS, #NP, #SS, #GP and #PF: a second fault while delivering one of them is a #DF (SDM table 6-5). */
    private static boolean contributory(int vector) {
        return vector == DIVIDE_ERROR || (vector >= 10 && vector <= 14);
    }

    static boolean pushesErrorCode(int vector) {
        return vector == DOUBLE_FAULT || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21
                || vector == 29 || vector == 30;
    }

    private static boolean tryDeliver(Cpu cpu, int vector, long errorCode) {
        long[] idt = cpu.idt();
        long gateOffset = (long) vector * GATE_SIZE;
        if (gateOffset + GATE_SIZE - 1 > idt[1]) {
            return false;
        }
        Pointer gate = cpu.memory(idt[0] + gateOffset, GATE_SIZE);
        if (gate == null) {
            return false;
        }
        int access = Byte.toUnsignedInt(gate.getByte(5));
        int type = access & GATE_TYPE_MASK;
        if ((access & GATE_PRESENT) == 0 || (type != INTERRUPT_GATE && type != TRAP_GATE)) {
            return false;
        }
        long handler = Short.toUnsignedLong(gate.getShort(0)) | Short.toUnsignedLong(gate.getShort(6)) << 16
                | Integer.toUnsignedLong(gate.getInt(8)) << 32;
        int selector = Short.toUnsignedInt(gate.getShort(2));

        long rsp = cpu.register(Unicorn.X86_REG_RSP);
        long rflags = cpu.register(Unicorn.X86_REG_RFLAGS);
        long[] frame = pushesErrorCode(vector)
                ? new long[] {errorCode, cpu.register(Unicorn.X86_REG_RIP), cpu.register(Unicorn.X86_REG_CS), rflags,
                        rsp, cpu.register(Unicorn.X86_REG_SS)}
                : new long[] {cpu.register(Unicorn.X86_REG_RIP), cpu.register(Unicorn.X86_REG_CS), rflags, rsp,
                        cpu.register(Unicorn.X86_REG_SS)};
        long top = (rsp & ~0xFL) - (long) frame.length * 8;
        Pointer stack = cpu.memory(top, frame.length * 8);
        if (stack == null) {
            return false;
        }
        stack.put(0, frame, 0, frame.length);
        cpu.setRegister(Unicorn.X86_REG_RSP, top);
        long cleared = RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | (type == INTERRUPT_GATE ? RFLAGS_IF : 0);
        cpu.setRegister(Unicorn.X86_REG_RFLAGS, rflags & ~cleared);
        if (selector != cpu.register(Unicorn.X86_REG_CS)) {
            cpu.setRegister(Unicorn.X86_REG_CS, selector);
        }
        cpu.setRegister(Unicorn.X86_REG_RIP, handler);
        return true;
    }
}

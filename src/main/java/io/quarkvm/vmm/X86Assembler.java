package io.quarkvm.vmm;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A tiny x86-64 assembler: just the instructions the built-in guests use, each encoded by the rules of the Intel SDM
 * vol. 2 (REX prefix, ModRM, SIB, displacement, immediate). Jumps and calls go to {@link Label}s and are always
 * rel32, so a label may be bound before or after its use. The method names read like Intel syntax:
 * {@code mov(R15, RBX)} is {@code mov r15, rbx}; memory operands are {@code [base + displacement]}.
 */
final class X86Assembler {

    /** The sixteen 64-bit general-purpose registers, by their encoding number. */
    enum Reg {
        RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15;

        int low3() {
            return ordinal() & 7;
        }

        boolean extended() {
            return ordinal() >= 8;
        }
    }

    /** A jump target; bind it where it points. */
    static final class Label {
        private int offset = -1;
    }

    private enum Width { DWORD, QWORD }

    private static final int REX = 0x40;
    private static final int REX_W = 0x08;
    private static final int REX_R = 0x04;
    private static final int REX_B = 0x01;

    private final ByteArrayOutputStream code = new ByteArrayOutputStream();
    private final List<Map.Entry<Integer, Label>> fixups = new ArrayList<>();

    /** Where the next instruction goes, relative to the start of the code. */
    int position() {
        return code.size();
    }

    void bind(Label label) {
        if (label.offset >= 0) {
            throw new IllegalStateException("label bound twice");
        }
        label.offset = position();
    }

    /** The machine code; every label used must be bound. */
    byte[] assemble() {
        byte[] bytes = code.toByteArray();
        for (Map.Entry<Integer, Label> fixup : fixups) {
            int at = fixup.getKey();
            if (fixup.getValue().offset < 0) {
                throw new IllegalStateException("jump to an unbound label at offset " + at);
            }
            int relative = fixup.getValue().offset - (at + 4);
            for (int i = 0; i < 4; i++) {
                bytes[at + i] = (byte) (relative >>> (8 * i));
            }
        }
        return bytes;
    }

    // ---- data movement -------------------------------------------------------------------------------------

    /** mov dst, src (64-bit): REX.W 89 /r */
    void mov(Reg dst, Reg src) {
        betweenRegisters(true, 0x89, dst, src);
    }

    /** mov dst32, imm32 (zero-extends into the 64-bit register): B8+rd id */
    void movImm32(Reg dst, int imm) {
        if (dst.extended()) {
            emit(REX | REX_B);
        }
        emit(0xB8 + dst.low3());
        emit32(imm);
    }

    /** mov dst, imm32 sign-extended to 64 bits: REX.W C7 /0 id */
    void movSignExtended(Reg dst, int imm) {
        rex(true, null, dst);
        emit(0xC7);
        modRmRegister(0, dst);
        emit32(imm);
    }

    /** mov dst, qword [base + disp]: REX.W 8B /r */
    void loadQword(Reg dst, Reg base, int disp) {
        rex(true, dst, base);
        emit(0x8B);
        modRmMemory(dst.low3(), base, disp);
    }

    /** mov qword [base + disp], src: REX.W 89 /r */
    void storeQword(Reg base, int disp, Reg src) {
        rex(true, src, base);
        emit(0x89);
        modRmMemory(src.low3(), base, disp);
    }

    /** mov dword [base + disp], src32: 89 /r */
    void storeDword(Reg base, int disp, Reg src) {
        rex(false, src, base);
        emit(0x89);
        modRmMemory(src.low3(), base, disp);
    }

    /** mov qword [base + disp], imm32 sign-extended: REX.W C7 /0 id */
    void storeQwordImm(Reg base, int disp, int imm) {
        rex(true, null, base);
        emit(0xC7);
        modRmMemory(0, base, disp);
        emit32(imm);
    }

    /** mov dword [base + disp], imm32: C7 /0 id */
    void storeDwordImm(Reg base, int disp, int imm) {
        rex(false, null, base);
        emit(0xC7);
        modRmMemory(0, base, disp);
        emit32(imm);
    }

    /** mov dst32, src32 (zero-extends): 89 /r */
    void mov32(Reg dst, Reg src) {
        betweenRegisters(false, 0x89, dst, src);
    }

    /** movzx dst32, word [base + disp]: 0F B7 /r */
    void loadWordZeroExtended(Reg dst, Reg base, int disp) {
        rex(false, dst, base);
        emit(0x0F, 0xB7);
        modRmMemory(dst.low3(), base, disp);
    }

    /** push reg: 50+rd */
    void push(Reg reg) {
        if (reg.extended()) {
            emit(REX | REX_B);
        }
        emit(0x50 + reg.low3());
    }

    /** pop reg: 58+rd */
    void pop(Reg reg) {
        if (reg.extended()) {
            emit(REX | REX_B);
        }
        emit(0x58 + reg.low3());
    }

    // ---- arithmetic and logic ------------------------------------------------------------------------------

    /** add dst, imm32 (64-bit): REX.W 81 /0 id */
    void add(Reg dst, int imm) {
        group1(Width.QWORD, 0, dst, imm);
    }

    /** add qword [base + disp], imm32: REX.W 81 /0 id */
    void addQwordImm(Reg base, int disp, int imm) {
        rex(true, null, base);
        emit(0x81);
        modRmMemory(0, base, disp);
        emit32(imm);
    }

    /** add dst, src (64-bit): REX.W 01 /r */
    void add(Reg dst, Reg src) {
        betweenRegisters(true, 0x01, dst, src);
    }

    /** sub dst, src (64-bit): REX.W 29 /r */
    void sub(Reg dst, Reg src) {
        betweenRegisters(true, 0x29, dst, src);
    }

    /** imul dst, src, imm32 (64-bit: dst = src × imm32 sign-extended): REX.W 69 /r id */
    void imul(Reg dst, Reg src, int imm) {
        rex(true, dst, src);
        emit(0x69);
        modRmRegister(dst, src);
        emit32(imm);
    }

    /** or dst, src (64-bit): REX.W 09 /r */
    void or(Reg dst, Reg src) {
        betweenRegisters(true, 0x09, dst, src);
    }

    /** xor dst32, src32 (clears the whole 64-bit register when dst == src): 31 /r */
    void xor32(Reg dst, Reg src) {
        betweenRegisters(false, 0x31, dst, src);
    }

    /** shl dst, imm8 (64-bit): REX.W C1 /4 ib */
    void shl(Reg dst, int count) {
        rex(true, null, dst);
        emit(0xC1);
        modRmRegister(4, dst);
        emit(count);
    }

    /** shr dst, imm8 (64-bit): REX.W C1 /5 ib */
    void shr(Reg dst, int count) {
        rex(true, null, dst);
        emit(0xC1);
        modRmRegister(5, dst);
        emit(count);
    }

    /** shr dst32, imm8: C1 /5 ib */
    void shr32(Reg dst, int count) {
        rex(false, null, dst);
        emit(0xC1);
        modRmRegister(5, dst);
        emit(count);
    }

    /** inc qword [base + disp]: REX.W FF /0 */
    void incQword(Reg base, int disp) {
        rex(true, null, base);
        emit(0xFF);
        modRmMemory(0, base, disp);
    }

    /** cmp reg32, imm32: 81 /7 id */
    void cmp32(Reg reg, int imm) {
        group1(Width.DWORD, 7, reg, imm);
    }

    /** cmp a, b (64-bit: flags of a - b): REX.W 39 /r */
    void cmp(Reg a, Reg b) {
        betweenRegisters(true, 0x39, a, b);
    }

    /** cmp reg, qword [base + disp]: REX.W 3B /r */
    void cmpQword(Reg reg, Reg base, int disp) {
        rex(true, reg, base);
        emit(0x3B);
        modRmMemory(reg.low3(), base, disp);
    }

    /** cmp reg32, dword [base + disp]: 3B /r */
    void cmpDword(Reg reg, Reg base, int disp) {
        rex(false, reg, base);
        emit(0x3B);
        modRmMemory(reg.low3(), base, disp);
    }

    /** cmp dword [base + disp], imm32: 81 /7 id */
    void cmpDwordImm(Reg base, int disp, int imm) {
        rex(false, null, base);
        emit(0x81);
        modRmMemory(7, base, disp);
        emit32(imm);
    }

    /** test reg32, imm32: F7 /0 id */
    void test32(Reg reg, int imm) {
        rex(false, null, reg);
        emit(0xF7);
        modRmRegister(0, reg);
        emit32(imm);
    }

    /** test reg32, reg32: 85 /r */
    void test32(Reg a, Reg b) {
        betweenRegisters(false, 0x85, a, b);
    }

    // ---- control flow --------------------------------------------------------------------------------------

    /** jmp rel32: E9 cd */
    void jmp(Label target) {
        emit(0xE9);
        rel32(target);
    }

    /** je/jz rel32: 0F 84 cd */
    void je(Label target) {
        emit(0x0F, 0x84);
        rel32(target);
    }

    /** jne/jnz rel32: 0F 85 cd */
    void jne(Label target) {
        emit(0x0F, 0x85);
        rel32(target);
    }

    /** jb (unsigned below) rel32: 0F 82 cd */
    void jb(Label target) {
        emit(0x0F, 0x82);
        rel32(target);
    }

    /** ja (unsigned above) rel32: 0F 87 cd */
    void ja(Label target) {
        emit(0x0F, 0x87);
        rel32(target);
    }

    /** jae (unsigned above or equal) rel32: 0F 83 cd */
    void jae(Label target) {
        emit(0x0F, 0x83);
        rel32(target);
    }

    /** call rel32: E8 cd */
    void call(Label target) {
        emit(0xE8);
        rel32(target);
    }

    /** ret: C3 */
    void ret() {
        emit(0xC3);
    }

    /** iretq: REX.W CF */
    void iretq() {
        emit(REX | REX_W, 0xCF);
    }

    // ---- system --------------------------------------------------------------------------------------------

    /** cpuid: 0F A2 (leaf in EAX, sub-leaf in ECX; results in EAX, EBX, ECX, EDX) */
    void cpuid() {
        emit(0x0F, 0xA2);
    }

    /** rdmsr: 0F 32 (MSR number in ECX; value in EDX:EAX) */
    void rdmsr() {
        emit(0x0F, 0x32);
    }

    /** wrmsr: 0F 30 (MSR number in ECX; value from EDX:EAX) */
    void wrmsr() {
        emit(0x0F, 0x30);
    }

    /** rdtsc: 0F 31 (the time-stamp counter in EDX:EAX, the upper halves of RDX and RAX cleared) */
    void rdtsc() {
        emit(0x0F, 0x31);
    }

    /** mov dx, imm16 then out dx, al: 66 BA iw, EE (ports above 0xFF need DX) */
    void outToPort(int port) {
        emit(0x66, 0xBA);
        emit(port & 0xFF, (port >>> 8) & 0xFF);
        emit(0xEE);
    }

    /** hlt: F4 */
    void hlt() {
        emit(0xF4);
    }

    /** ud2: 0F 0B (always #UD) */
    void ud2() {
        emit(0x0F, 0x0B);
    }

    /** lidt [base + disp]: 0F 01 /3 */
    void lidt(Reg base, int disp) {
        rex(false, null, base);
        emit(0x0F, 0x01);
        modRmMemory(3, base, disp);
    }

    // ---- encoding ------------------------------------------------------------------------------------------

    /** The 81 /digit id group (add, or, cmp, ...) on a register. */
    private void group1(Width width, int digit, Reg reg, int imm) {
        rex(width == Width.QWORD, null, reg);
        emit(0x81);
        modRmRegister(digit, reg);
        emit32(imm);
    }

    /** An instruction of the form "op r/m, reg" between two registers: [REX] opcode, ModRM (mod 11, src, dst). */
    private void betweenRegisters(boolean wide, int opcode, Reg dst, Reg src) {
        rex(wide, src, dst);
        emit(opcode);
        modRmRegister(src, dst);
    }

    /** A REX prefix when needed: W for 64-bit operands, R extends ModRM.reg, B extends ModRM.rm or the base. */
    private void rex(boolean wide, Reg regField, Reg rmField) {
        int rex = (wide ? REX_W : 0)
                | (regField != null && regField.extended() ? REX_R : 0)
                | (rmField != null && rmField.extended() ? REX_B : 0);
        if (rex != 0) {
            emit(REX | rex);
        }
    }

    private void modRmRegister(Reg reg, Reg rm) {
        modRmRegister(reg.low3(), rm);
    }

    /** ModRM with mod = 11: both operands are registers (or an opcode extension and a register). */
    private void modRmRegister(int regField, Reg rm) {
        emit(0xC0 | regField << 3 | rm.low3());
    }

    /**
     * ModRM (+ SIB) for [base + disp]: mod 00 without displacement, 01 with disp8, 10 with disp32. RSP/R12 as base
     * need a SIB byte (rm = 100); RBP/R13 with mod 00 would mean RIP-relative, so they always get a displacement.
     */
    private void modRmMemory(int regField, Reg base, int disp) {
        boolean needsSib = base.low3() == 4;
        int mod;
        if (disp == 0 && base.low3() != 5) {
            mod = 0;
        } else if (disp >= -128 && disp <= 127) {
            mod = 1;
        } else {
            mod = 2;
        }
        emit(mod << 6 | regField << 3 | (needsSib ? 4 : base.low3()));
        if (needsSib) {
            emit(0x24); // scale 1, no index, base = RSP/R12
        }
        if (mod == 1) {
            emit(disp);
        } else if (mod == 2) {
            emit32(disp);
        }
    }

    private void rel32(Label target) {
        fixups.add(Map.entry(position(), target));
        emit32(0);
    }

    private void emit(int... bytes) {
        for (int b : bytes) {
            code.write(b);
        }
    }

    private void emit32(int value) {
        for (int i = 0; i < 4; i++) {
            code.write(value >>> (8 * i));
        }
    }
}

package io.quarkvm.vmm;

import static io.quarkvm.vmm.X86Assembler.Reg.R10;
import static io.quarkvm.vmm.X86Assembler.Reg.R11;
import static io.quarkvm.vmm.X86Assembler.Reg.R12;
import static io.quarkvm.vmm.X86Assembler.Reg.R13;
import static io.quarkvm.vmm.X86Assembler.Reg.R14;
import static io.quarkvm.vmm.X86Assembler.Reg.R15;
import static io.quarkvm.vmm.X86Assembler.Reg.R8;
import static io.quarkvm.vmm.X86Assembler.Reg.R9;
import static io.quarkvm.vmm.X86Assembler.Reg.RAX;
import static io.quarkvm.vmm.X86Assembler.Reg.RBX;
import static io.quarkvm.vmm.X86Assembler.Reg.RCX;
import static io.quarkvm.vmm.X86Assembler.Reg.RDX;
import static io.quarkvm.vmm.X86Assembler.Reg.RSP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Each encoding against the bytes GNU as produces for the same Intel-syntax instruction (checked with objdump). */
class X86AssemblerTest {

    private static void assertEncodes(String expectedHex, Consumer<X86Assembler> instruction) {
        X86Assembler asm = new X86Assembler();
        instruction.accept(asm);
        assertArrayEquals(HexFormat.of().parseHex(expectedHex.replace(" ", "")), asm.assemble(), expectedHex);
    }

    @Test
    void registerAndImmediateForms() {
        assertEncodes("49 89 df", a -> a.mov(R15, RBX));                   // mov r15, rbx
        assertEncodes("49 c1 e7 07", a -> a.shl(R15, 7));                  // shl r15, 7
        assertEncodes("49 81 c7 00 00 01 00", a -> a.add(R15, 0x10000));   // add r15, 0x10000
        assertEncodes("b8 00 00 00 40", a -> a.movImm32(RAX, 0x40000000)); // mov eax, 0x40000000
        assertEncodes("41 bd 01 00 00 00", a -> a.movImm32(R13, 1));       // mov r13d, 1
        assertEncodes("48 c7 c0 ff ff ff ff", a -> a.movSignExtended(RAX, -1)); // mov rax, -1
        assertEncodes("31 c9", a -> a.xor32(RCX, RCX));                    // xor ecx, ecx
        assertEncodes("45 31 ed", a -> a.xor32(R13, R13));                 // xor r13d, r13d
        assertEncodes("81 fb 4d 69 63 72", a -> a.cmp32(RBX, 0x7263694D)); // cmp ebx, "Micr"
        assertEncodes("f7 c0 40 00 00 00", a -> a.test32(RAX, 0x40));      // test eax, 0x40
        assertEncodes("45 85 ed", a -> a.test32(R13, R13));                // test r13d, r13d
        assertEncodes("89 d8", a -> a.mov32(RAX, RBX));                    // mov eax, ebx
        assertEncodes("c1 e8 18", a -> a.shr32(RAX, 24));                  // shr eax, 24
        assertEncodes("48 c1 e2 20", a -> a.shl(RDX, 32));                 // shl rdx, 32
        assertEncodes("48 09 d0", a -> a.or(RAX, RDX));                    // or rax, rdx
        assertEncodes("48 81 c4 08 00 00 00", a -> a.add(RSP, 8));         // add rsp, 8
        assertEncodes("4c 01 ca", a -> a.add(RDX, R9));                    // add rdx, r9
        assertEncodes("4c 29 d9", a -> a.sub(RCX, R11));                   // sub rcx, r11
        assertEncodes("48 39 d1", a -> a.cmp(RCX, RDX));                   // cmp rcx, rdx
        assertEncodes("4d 39 c4", a -> a.cmp(R12, R8));                    // cmp r12, r8
        assertEncodes("4c 69 d2 e8 03 00 00", a -> a.imul(R10, RDX, 1000)); // imul r10, rdx, 1000
        assertEncodes("48 c1 e8 0c", a -> a.shr(RAX, 12));                 // shr rax, 12
        assertEncodes("49 c1 ea 0e", a -> a.shr(R10, 14));                 // shr r10, 14
    }

    @Test
    void memoryForms() {
        assertEncodes("41 89 5f 40", a -> a.storeDword(R15, 0x40, RBX));         // mov [r15+0x40], ebx
        assertEncodes("49 89 47 18", a -> a.storeQword(R15, 0x18, RAX));         // mov [r15+0x18], rax
        assertEncodes("49 c7 47 18 ff ff ff ff", a -> a.storeQwordImm(R15, 0x18, -1)); // mov qword [r15+0x18], -1
        assertEncodes("41 c7 47 28 01 00 00 00", a -> a.storeDwordImm(R15, 0x28, 1));  // mov dword [r15+0x28], 1
        assertEncodes("4d 8b 77 10", a -> a.loadQword(R14, R15, 0x10));          // mov r14, [r15+0x10]
        assertEncodes("49 8b 07", a -> a.loadQword(RAX, R15, 0));                // mov rax, [r15]
        assertEncodes("48 8b 44 24 10", a -> a.loadQword(RAX, RSP, 16));         // mov rax, [rsp+16] (SIB)
        assertEncodes("0f b7 00", a -> a.loadWordZeroExtended(RAX, RAX, 0));     // movzx eax, word [rax]
        assertEncodes("4d 3b 77 10", a -> a.cmpQword(R14, R15, 0x10));           // cmp r14, [r15+0x10]
        assertEncodes("41 3b 47 20", a -> a.cmpDword(RAX, R15, 0x20));           // cmp eax, [r15+0x20]
        assertEncodes("41 81 7f 28 00 00 00 00", a -> a.cmpDwordImm(R15, 0x28, 0)); // cmp dword [r15+0x28], 0
        assertEncodes("49 ff 07", a -> a.incQword(R15, 0));                      // inc qword [r15]
        assertEncodes("49 ff 47 08", a -> a.incQword(R15, 8));                   // inc qword [r15+8]
        assertEncodes("49 ff 04 24", a -> a.incQword(R12, 0));                   // inc qword [r12] (SIB)
        assertEncodes("48 81 44 24 10 02 00 00 00", a -> a.addQwordImm(RSP, 16, 2)); // add qword [rsp+16], 2
        assertEncodes("0f 01 1c 24", a -> a.lidt(RSP, 0));                       // lidt [rsp]
        assertEncodes("49 8b 87 00 01 00 00", a -> a.loadQword(RAX, R15, 0x100)); // mov rax, [r15+0x100] (disp32)
        assertEncodes("49 8b 45 00", a -> a.loadQword(RAX, R13, 0));             // mov rax, [r13+0] (no RIP-relative)
    }

    @Test
    void systemInstructions() {
        assertEncodes("0f a2 0f 32 0f 30 0f 31 f4 0f 0b 48 cf c3", a -> {
            a.cpuid();
            a.rdmsr();
            a.wrmsr();
            a.rdtsc();
            a.hlt();
            a.ud2();
            a.iretq();
            a.ret();
        });
        assertEncodes("66 ba 10 05 ee", a -> a.outToPort(0x510));               // mov dx, 0x510; out dx, al
        assertEncodes("50 58 41 57", a -> {
            a.push(RAX);
            a.pop(RAX);
            a.push(R15);
        });
    }

    @Test
    void jumpsResolveForwardAndBackward() {
        assertEncodes("e9 00 00 00 00 0f 84 fa ff ff ff e8 f5 ff ff ff 0f 82 ef ff ff ff 0f 85 e9 ff ff ff"
                + " 0f 87 e3 ff ff ff 0f 83 dd ff ff ff", a -> {
            X86Assembler.Label after = new X86Assembler.Label();
            X86Assembler.Label start = new X86Assembler.Label();
            a.jmp(after);      // jmp +0 (to the next instruction)
            a.bind(after);
            a.bind(start);
            a.je(start);       // je  -6 (to itself)
            a.call(start);     // call -11
            a.jb(start);       // jb  -17
            a.jne(start);      // jne -23
            a.ja(start);       // ja  -29
            a.jae(start);      // jae -35
        });
    }

    @Test
    void anUnboundLabelIsAnError() {
        X86Assembler asm = new X86Assembler();
        asm.jmp(new X86Assembler.Label());
        assertThrows(IllegalStateException.class, asm::assemble);
    }
}

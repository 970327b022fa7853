package io.quarkvm.vmm;

import static io.quarkvm.vmm.GuestLayout.CPU_INDEX;
import static io.quarkvm.vmm.GuestLayout.FIRST_APIC_ID_LEAF1;
import static io.quarkvm.vmm.GuestLayout.FIRST_VP_INDEX;
import static io.quarkvm.vmm.GuestLayout.FIRST_X2APIC_ID_LEAFB;
import static io.quarkvm.vmm.GuestLayout.GP_FAULTS;
import static io.quarkvm.vmm.GuestLayout.HEARTBEAT;
import static io.quarkvm.vmm.GuestLayout.HYPERV_FOUND;
import static io.quarkvm.vmm.GuestLayout.LAST_APIC_ID_LEAF1;
import static io.quarkvm.vmm.GuestLayout.LAST_VP_INDEX;
import static io.quarkvm.vmm.GuestLayout.LAST_X2APIC_ID_LEAFB;
import static io.quarkvm.vmm.GuestLayout.VIOLATIONS;
import static io.quarkvm.vmm.GuestLayout.WRMSR_ACCEPTED;
import static io.quarkvm.vmm.GuestLayout.WRMSR_FAULTED;
import static io.quarkvm.vmm.GuestLayout.WRMSR_OUTCOME;
import static io.quarkvm.vmm.X86Assembler.Reg.RAX;
import static io.quarkvm.vmm.X86Assembler.Reg.RBX;
import static io.quarkvm.vmm.X86Assembler.Reg.RCX;
import static io.quarkvm.vmm.X86Assembler.Reg.RDX;
import static io.quarkvm.vmm.X86Assembler.Reg.RSP;
import static io.quarkvm.vmm.X86Assembler.Reg.R13;
import static io.quarkvm.vmm.X86Assembler.Reg.R14;
import static io.quarkvm.vmm.X86Assembler.Reg.R15;

import io.quarkvm.vmm.X86Assembler.Label;
import java.util.OptionalInt;

/**
 * The identity probe: what a guest itself sees of its vCPU identity, checked from inside.
 *
 * <p>On each vCPU it finds its record from RBX (cpu_index), checks CPUID for Hyper-V the way a guest must before
 * touching the MSR ("Microsoft Hv" at 0x40000000 and AccessVpIndex, bit 6 of 0x40000003 EAX), reads
 * HV_X64_MSR_VP_INDEX (0x40000002) only then, reads its APIC ID from CPUID 0x1 EBX[31:24] and its x2APIC ID from
 * CPUID 0xB EDX, stores these first values and reports (OUT {@link #PORT_IDENTITY_STORED}). Then it tries one
 * WRMSR of the read-only VP index (only where Hyper-V was found), records whether it took #GP, and reports again
 * (OUT {@link #PORT_REPORT_COMPLETE}). From then on it loops: the heartbeat goes up every turn, and every
 * {@link #RECHECK_INTERVAL} turns it reads the MSR and CPUID again; if anything differs from the first values it
 * counts a violation and reports it (OUT {@link #PORT_VIOLATION}). Each turn ends in HLT, as an idle OS does: with
 * no in-kernel irqchip KVM_RUN returns KVM_EXIT_HLT, and the vCPU thread waits one tick
 * ({@link VcpuRunner#HALT_TICK_MILLIS}) before it re-enters the guest after the HLT. So an idle probe costs the host
 * next to nothing, and its heartbeat goes up about once a tick. The {@linkplain #busyProgram busy variant} spins
 * instead (no HLT), for tests that need a vCPU which stays inside KVM_RUN.
 *
 * <p>Register use: R15 = address of the vCPU's record for the whole run (the #GP handler uses it too); CPUID and
 * RDMSR clobber RAX, RBX, RCX, RDX.
 */
final class GuestProbe {

    /** OUT here: the first values are in the record. */
    static final int PORT_IDENTITY_STORED = 0x510;
    /** OUT here: the WRMSR test is done too; the record's first values are final. */
    static final int PORT_REPORT_COMPLETE = 0x511;
    /** OUT here: a re-check differed from the first values (violations was incremented). */
    static final int PORT_VIOLATION = 0x512;
    /** OUT here: #GP on an instruction that is not RDMSR/WRMSR; the probe then halts. */
    static final int PORT_UNEXPECTED_FAULT = 0x513;

    /**
     * Turns of the main loop between re-checks: a power of two (the check is a mask test). A turn lasts one halt
     * tick, so a re-check comes every {@code RECHECK_INTERVAL × HALT_TICK_MILLIS} (80 ms). The busy variant re-checks
     * far more often (a turn is ~4 µs on PVM): an RDMSR exit every ~30 µs.
     */
    static final int RECHECK_INTERVAL = 1 << 3;

    static final int HV_CPUID_VENDOR_AND_MAX = 0x40000000;
    static final int HV_CPUID_FEATURES = 0x40000003;
    /** "Microsoft Hv" as CPUID returns it in EBX, ECX, EDX. */
    static final int HV_VENDOR_EBX = 0x7263694D; // "Micr"
    static final int HV_VENDOR_ECX = 0x666F736F; // "osof"
    static final int HV_VENDOR_EDX = 0x76482074; // "t Hv"
    /** HV_MSR_VP_INDEX_AVAILABLE ("AccessVpIndex"), bit 6 of CPUID 0x40000003 EAX. */
    static final int HV_ACCESS_VP_INDEX = 1 << 6;
    static final int HV_X64_MSR_VP_INDEX = 0x40000002;
    /** The two-byte opcodes the #GP handler may skip: WRMSR 0F 30 and RDMSR 0F 32, as little-endian words. */
    private static final int OPCODE_WRMSR = 0x300F;
    private static final int OPCODE_RDMSR = 0x320F;

    private GuestProbe() {
    }

    /** The probe, entered at its first byte, with its #GP handler for the IDT: halts after every heartbeat. */
    static GuestProgram program() {
        return assemble("probe", true, null);
    }

    /** The probe without the HLT: its main loop spins inside KVM_RUN (leaving it only for re-checks' RDMSR). */
    static GuestProgram busyProgram() {
        return assemble("busy-probe", false, null);
    }

    /** The probe whose boot vCPU also rewrites memory at a known rate: see {@link GuestDirtier}. */
    static GuestProgram dirtyingProgram() {
        return assemble("dirty-memory", true, new GuestDirtier());
    }

    private static GuestProgram assemble(String name, boolean idle, GuestDirtier dirtier) {
        X86Assembler asm = new X86Assembler();
        int gpHandler = emit(asm, idle, dirtier);
        return new GuestProgram(name, asm.assemble(), OptionalInt.of(gpHandler));
    }

    /**
     * Emits the whole probe and returns the #GP handler's offset.
     *
     * @param dirtier null, or what the boot vCPU does besides, every turn of the main loop
     */
    private static int emit(X86Assembler asm, boolean idle, GuestDirtier dirtier) {
        Label noHyperV = new Label();
        Label wrmsrDone = new Label();
        Label mainLoop = new Label();
        Label readVpIndex = new Label();
        Label readApicIdLeaf1 = new Label();
        Label readX2ApicIdLeafB = new Label();
        Label recheck = new Label();

        // ---- find the record: r15 = RECORDS + (cpu_index << RECORD_SHIFT)
        asm.mov(R15, RBX);                                          // r15 = cpu_index (from the VMM)
        asm.shl(R15, GuestLayout.RECORD_SHIFT);                     // r15 *= RECORD_SIZE
        asm.add(R15, (int) GuestLayout.RECORDS);                    // r15 += RECORDS
        asm.storeDword(R15, CPU_INDEX, RBX);                        // record.cpuIndex = ebx

        // ---- Hyper-V present with AccessVpIndex? Otherwise the VP index stays -1 and the MSR is never touched.
        asm.storeQwordImm(R15, FIRST_VP_INDEX, -1);                 // record.firstVpIndex = -1
        asm.storeDwordImm(R15, HYPERV_FOUND, 0);                    // record.hypervFound = 0
        asm.movImm32(RAX, HV_CPUID_VENDOR_AND_MAX);                 // eax = 0x40000000
        asm.xor32(RCX, RCX);                                        // ecx = 0
        asm.cpuid();                                                // eax = max hypervisor leaf, ebx:ecx:edx = vendor
        asm.cmp32(RAX, HV_CPUID_FEATURES);                          // max leaf < 0x40000003?
        asm.jb(noHyperV);                                           //   then no usable Hyper-V leaves
        asm.cmp32(RBX, HV_VENDOR_EBX);                              // "Micr"
        asm.jne(noHyperV);
        asm.cmp32(RCX, HV_VENDOR_ECX);                              // "osof"
        asm.jne(noHyperV);
        asm.cmp32(RDX, HV_VENDOR_EDX);                              // "t Hv"
        asm.jne(noHyperV);
        asm.movImm32(RAX, HV_CPUID_FEATURES);                       // eax = 0x40000003
        asm.xor32(RCX, RCX);                                        // ecx = 0
        asm.cpuid();                                                // eax = partition privileges
        asm.test32(RAX, HV_ACCESS_VP_INDEX);                        // AccessVpIndex?
        asm.je(noHyperV);
        asm.storeDwordImm(R15, HYPERV_FOUND, 1);                    // record.hypervFound = 1
        asm.call(readVpIndex);                                      // rax = RDMSR 0x40000002
        asm.storeQword(R15, FIRST_VP_INDEX, RAX);                   // record.firstVpIndex = rax
        asm.bind(noHyperV);

        // ---- APIC IDs
        asm.call(readApicIdLeaf1);                                  // eax = CPUID 0x1 EBX[31:24]
        asm.storeDword(R15, FIRST_APIC_ID_LEAF1, RAX);              // record.firstApicIdLeaf1 = eax
        asm.call(readX2ApicIdLeafB);                                // eax = CPUID 0xB EDX
        asm.storeDword(R15, FIRST_X2APIC_ID_LEAFB, RAX);            // record.firstX2ApicIdLeafB = eax
        asm.outToPort(PORT_IDENTITY_STORED);                        // report: first values stored

        // ---- one WRMSR of the read-only VP index, where Hyper-V was found: the VMM must refuse it (#GP)
        asm.cmpDwordImm(R15, HYPERV_FOUND, 0);                      // no Hyper-V?
        asm.je(wrmsrDone);                                          //   then the outcome stays "not tried"
        asm.loadQword(R14, R15, GP_FAULTS);                         // r14 = #GP count before
        asm.movImm32(RCX, HV_X64_MSR_VP_INDEX);                     // ecx = 0x40000002
        asm.xor32(RAX, RAX);                                        // edx:eax = 0
        asm.xor32(RDX, RDX);
        asm.wrmsr();                                                // refused: the #GP handler counts and skips it
        asm.storeDwordImm(R15, WRMSR_OUTCOME, WRMSR_ACCEPTED);      // record.wrmsrOutcome = accepted ...
        asm.cmpQword(R14, R15, GP_FAULTS);                          // ... unless the #GP count moved
        asm.je(wrmsrDone);
        asm.storeDwordImm(R15, WRMSR_OUTCOME, WRMSR_FAULTED);       // record.wrmsrOutcome = faulted
        asm.bind(wrmsrDone);
        asm.outToPort(PORT_REPORT_COMPLETE);                        // report: record complete
        if (dirtier != null) {
            dirtier.emitStart(asm);
        }

        // ---- main loop: heartbeat, a re-check every RECHECK_INTERVAL turns, then HLT until the next tick
        Label idleTurn = new Label();
        asm.bind(mainLoop);
        asm.incQword(R15, HEARTBEAT);                               // record.heartbeat++
        asm.loadQword(RAX, R15, HEARTBEAT);                         // rax = record.heartbeat
        asm.test32(RAX, RECHECK_INTERVAL - 1);                      // not a multiple of the interval?
        asm.jne(idleTurn);                                          //   no re-check this turn
        asm.call(recheck);
        asm.bind(idleTurn);
        if (dirtier != null) {
            dirtier.emitTurnCall(asm);
        }
        if (idle) {
            asm.hlt();                                              // KVM_EXIT_HLT: the VMM waits a tick
        }
        asm.jmp(mainLoop);

        // ---- recheck: read everything again, store it as the last values, count a violation if it differs
        asm.bind(recheck);
        Label vpIndexRead = new Label();
        Label vpIndexSame = new Label();
        Label apicIdSame = new Label();
        Label x2ApicIdSame = new Label();
        Label noViolation = new Label();
        asm.xor32(R13, R13);                                        // r13 = 0: nothing differs yet
        asm.movSignExtended(RAX, -1);                               // rax = -1 (no Hyper-V)
        asm.cmpDwordImm(R15, HYPERV_FOUND, 0);
        asm.je(vpIndexRead);
        asm.call(readVpIndex);                                      // rax = RDMSR 0x40000002
        asm.bind(vpIndexRead);
        asm.storeQword(R15, LAST_VP_INDEX, RAX);                    // record.lastVpIndex = rax
        asm.cmpQword(RAX, R15, FIRST_VP_INDEX);                     // same as the first?
        asm.je(vpIndexSame);
        asm.movImm32(R13, 1);                                       // r13 = 1: differs
        asm.bind(vpIndexSame);
        asm.call(readApicIdLeaf1);
        asm.storeDword(R15, LAST_APIC_ID_LEAF1, RAX);               // record.lastApicIdLeaf1 = eax
        asm.cmpDword(RAX, R15, FIRST_APIC_ID_LEAF1);
        asm.je(apicIdSame);
        asm.movImm32(R13, 1);
        asm.bind(apicIdSame);
        asm.call(readX2ApicIdLeafB);
        asm.storeDword(R15, LAST_X2APIC_ID_LEAFB, RAX);             // record.lastX2ApicIdLeafB = eax
        asm.cmpDword(RAX, R15, FIRST_X2APIC_ID_LEAFB);
        asm.je(x2ApicIdSame);
        asm.movImm32(R13, 1);
        asm.bind(x2ApicIdSame);
        asm.test32(R13, R13);                                       // anything differ?
        asm.je(noViolation);
        asm.incQword(R15, VIOLATIONS);                              // record.violations++
        asm.outToPort(PORT_VIOLATION);                              // report it
        asm.bind(noViolation);
        asm.ret();

        if (dirtier != null) {
            dirtier.emitTurn(asm);
        }

        // ---- readVpIndex: rax = HV_X64_MSR_VP_INDEX, or -1 if the RDMSR faulted (the handler skips it)
        asm.bind(readVpIndex);
        asm.movSignExtended(RAX, -1);                               // rax = -1
        asm.movSignExtended(RDX, -1);                               // rdx = -1 (kept if RDMSR faults)
        asm.movImm32(RCX, HV_X64_MSR_VP_INDEX);                     // ecx = 0x40000002
        asm.rdmsr();                                                // edx:eax = MSR
        asm.shl(RDX, 32);                                           // rax = edx:eax
        asm.mov32(RAX, RAX);                                        //   (clear rax's upper half first)
        asm.or(RAX, RDX);
        asm.ret();

        // ---- readApicIdLeaf1: eax = CPUID 0x1 EBX[31:24] (initial APIC ID)
        asm.bind(readApicIdLeaf1);
        asm.movImm32(RAX, 0x1);
        asm.xor32(RCX, RCX);
        asm.cpuid();
        asm.mov32(RAX, RBX);                                        // eax = ebx
        asm.shr32(RAX, 24);                                         // eax = ebx >> 24
        asm.ret();

        // ---- readX2ApicIdLeafB: eax = CPUID 0xB EDX (x2APIC ID)
        asm.bind(readX2ApicIdLeafB);
        asm.movImm32(RAX, 0xB);
        asm.xor32(RCX, RCX);
        asm.cpuid();
        asm.mov32(RAX, RDX);                                        // eax = edx
        asm.ret();

        // ---- #GP handler (interrupt gate): stack = error code, RIP, CS, RFLAGS, RSP, SS
        int gpHandler = asm.position();
        Label skipMsrInstruction = new Label();
        Label halt = new Label();
        asm.push(RAX);                                              // save rax; RIP is now at [rsp + 16]
        asm.loadQword(RAX, RSP, 16);                                // rax = faulting RIP
        asm.loadWordZeroExtended(RAX, RAX, 0);                      // eax = its first two opcode bytes
        asm.cmp32(RAX, OPCODE_WRMSR);                               // WRMSR?
        asm.je(skipMsrInstruction);
        asm.cmp32(RAX, OPCODE_RDMSR);                               // RDMSR?
        asm.je(skipMsrInstruction);
        asm.outToPort(PORT_UNEXPECTED_FAULT);                       // anything else: report and stop
        asm.bind(halt);
        asm.hlt();
        asm.jmp(halt);
        asm.bind(skipMsrInstruction);
        asm.incQword(R15, GP_FAULTS);                               // record.gpFaults++
        asm.addQwordImm(RSP, 16, 2);                                // return past the 2-byte instruction
        asm.pop(RAX);                                               // restore rax
        asm.add(RSP, 8);                                            // drop the error code
        asm.iretq();
        return gpHandler;
    }
}

package io.quarkvm.emulated;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.KvmDtable;
import io.quarkvm.kvm.KvmEnableCap;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmMsrFilter;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.KvmUserspaceMemoryRegion;
import io.quarkvm.kvm.KvmVcpuEvents;
import io.quarkvm.kvm.KvmXsave;
import io.quarkvm.kvm.NativeMapping;
import io.quarkvm.kvm.VcpuExit;
import io.quarkvm.kvm.VmFd;
import io.quarkvm.kvm.XcrEntry;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The emulated backend as the VMM sees it, with small hand-assembled guests: every kind of exit in KVM's order and
 * answered through the same calls, MSR interception of MSRs nobody registered, #GP through the guest's IDT, triple
 * fault, and kicks.
 */
class EmulatedVcpuTest {

    private static final long RAM = 2L << 20;
    private static final long CODE = 0x8000;
    private static final long GP_HANDLER = 0x9000;
    private static final long GDT = 0x1000;
    private static final long IDT = 0x2000;
    private static final long STACK_TOP = 0x10000;
    private static final long MMIO = 0x4000_0000L;
    private static final int VP_INDEX = 0x40000002;
    private static final int NOBODY_KNOWS = 0x12345;

    private EmulatedHypervisor hypervisor;
    private HypervisorVm vm;
    private NativeMapping ram;

    @BeforeEach
    void createVm() {
        hypervisor = TestHypervisors.emulatedOrSkip();
        vm = hypervisor.createVm();
        ram = NativeMapping.anonymous(RAM);
        vm.setUserMemoryRegion(new KvmUserspaceMemoryRegion(0, 0, 0, RAM, ram.address()));
    }

    @AfterEach
    void release() {
        if (vm != null) {
            vm.close();
            ram.close();
        }
    }

    /** A vCPU at CODE in 64-bit mode, its IDT at IDT with {@code idtLimit}. */
    private HypervisorVcpu vcpu(int idtLimit) {
        HypervisorVcpu vcpu = vm.createVcpu(0);
        KvmSregs sregs = vcpu.getSregs();
        sregs.idt = new KvmDtable();
        sregs.idt.base = IDT;
        sregs.idt.limit = idtLimit;
        sregs.gdt = new KvmDtable();
        sregs.gdt.base = GDT;
        sregs.gdt.limit = 3 * 8 - 1;
        sregs.cs.selector = 0x08;
        sregs.ss.selector = 0x10;
        vcpu.setSregs(sregs);
        KvmRegs regs = new KvmRegs();
        regs.rip = CODE;
        regs.rsp = STACK_TOP;
        regs.rflags = KvmRegs.RFLAGS_RESERVED;
        vcpu.setRegs(regs);
        return vcpu;
    }

    /** iretq loads CS and SS from the GDT: 64-bit code at 0x08, data at 0x10 (as the VMM's GuestMemory has). */
    private void installGdt() {
        ram.pointer().putLongLong(GDT + 0x08, 0x00AF_9B00_0000_FFFFL);
        ram.pointer().putLongLong(GDT + 0x10, 0x00CF_9300_0000_FFFFL);
    }

    private void load(long address, byte[] code) {
        ram.pointer().put(address, code, 0, code.length);
    }

    /** An interrupt gate for #GP to GP_HANDLER. */
    private void installGpGate() {
        long gate = IDT + 13 * 16;
        ram.pointer().putShort(gate, (short) GP_HANDLER);
        ram.pointer().putShort(gate + 2, (short) 0x08);
        ram.pointer().putByte(gate + 5, (byte) 0x8E);
        ram.pointer().putShort(gate + 6, (short) (GP_HANDLER >>> 16));
        ram.pointer().putInt(gate + 8, 0);
    }

    /**
     * #GP handler: OUT 0x91 the faulting RIP, OUT 0x93 the error code, skip the 2-byte instruction, iretq.
     */
    private static byte[] gpHandler() {
        return new Code()
                .bytes(0x48, 0x8B, 0x44, 0x24, 0x08) // mov rax, [rsp + 8]   (RIP)
                .bytes(0xE7, 0x91)                   // out 0x91, eax
                .bytes(0x48, 0x8B, 0x04, 0x24)       // mov rax, [rsp]       (error code)
                .bytes(0xE7, 0x93)                   // out 0x93, eax
                .bytes(0x48, 0x83, 0x44, 0x24, 0x08, 0x02) // add qword [rsp + 8], 2
                .bytes(0x48, 0x83, 0xC4, 0x08)       // add rsp, 8
                .bytes(0x48, 0xCF)                   // iretq
                .build();
    }

    /**
     * As KVM_SET_SREGS, setting the segment registers reads no guest memory: a VM whose memory arrives after its
     * vCPUs are set up (an incoming migration) has an all-zero GDT when they are, and Unicorn 2.0.1 would take the
     * process down loading a selector over it.
     */
    @Test
    void segmentSelectorsSetOverAnEmptyGdtTakeEffectOnceTheGdtIsThere() {
        HypervisorVcpu vcpu = vcpu(0);
        KvmSregs sregs = vcpu.getSregs();
        sregs.ds.selector = 0x10;
        sregs.es.selector = 0x10;
        sregs.fs.selector = 0x10;
        sregs.gs.selector = 0x10;
        vcpu.setSregs(sregs);
        KvmSregs read = vcpu.getSregs();
        assertEquals(List.of(0x08, 0x10, 0x10, 0x10, 0x10, 0x10), List.of(read.cs.selector, read.ds.selector,
                read.es.selector, read.fs.selector, read.gs.selector, read.ss.selector));

        installGdt();
        load(CODE, new Code().bytes(0x8C, 0xD8).bytes(0xE7, 0x90).bytes(0xF4).build()); // mov eax, ds; out; hlt
        VcpuExit out = vcpu.run();
        assertEquals(new VcpuExit.Io(true, 0x90, 4, 1, 0x10), out);
        assertEquals(new VcpuExit.Hlt(), vcpu.run());
        vcpu.close();
    }

    @Test
    void everyExitComesBackAsKvmGivesItAndIsAnsweredTheSameWay() {
        vm.enableCap(new KvmEnableCap(KvmCapability.X86_USER_SPACE_MSR,
                VmFd.MSR_EXIT_REASON_FILTER | VmFd.MSR_EXIT_REASON_UNKNOWN));
        vm.setMsrFilter(new KvmMsrFilter(false, List.of(KvmMsrFilter.Range.denying(VP_INDEX, KvmMsrFilter.WRITE))));
        Code code = new Code()
                .bytes(0xB0, 0x42).bytes(0xE6, 0x80)              // mov al, 0x42; out 0x80, al
                .bytes(0xE4, 0x81).bytes(0xE6, 0x82)              // in al, 0x81; out 0x82, al
                .bytes(0x48, 0xBB).imm64(MMIO)                    // mov rbx, MMIO
                .bytes(0xC7, 0x03).imm32(0x12345678)              // mov dword [rbx], 0x12345678
                .bytes(0x8B, 0x03).bytes(0xE7, 0x83)              // mov eax, [rbx]; out 0x83, eax
                .bytes(0xB9).imm32(NOBODY_KNOWS).bytes(0x0F, 0x32) // mov ecx, 0x12345; rdmsr
                .bytes(0xE7, 0x84).bytes(0x89, 0xD0).bytes(0xE7, 0x85) // out 0x84, eax; mov eax, edx; out 0x85, eax
                .bytes(0xB9).imm32(VP_INDEX).bytes(0xB8).imm32(7).bytes(0x31, 0xD2).bytes(0x0F, 0x30) // wrmsr
                .bytes(0xB9).imm32(0xC0000080).bytes(0x0F, 0x32).bytes(0xE7, 0x86) // rdmsr EFER: no exit
                .bytes(0xB8).imm32(1).bytes(0x31, 0xC9).bytes(0x0F, 0xA2)       // cpuid(1)
                .bytes(0x89, 0xD8).bytes(0xE7, 0x87)              // mov eax, ebx; out 0x87, eax
                .bytes(0xF4)                                      // hlt
                .bytes(0xE6, 0x88);                               // out 0x88, al
        load(CODE, code.build());
        HypervisorVcpu vcpu = vcpu(0);
        vcpu.setCpuid2(List.of(new CpuidEntry(1, 0, 0, 0x000306A9, 0x07000800, 0, 0)));

        assertEquals(new VcpuExit.Io(true, 0x80, 1, 1, 0x42), vcpu.run());
        assertEquals(new VcpuExit.Io(false, 0x81, 1, 1, 0), vcpu.run());
        vcpu.answerIoIn(0x37);
        assertEquals(new VcpuExit.Io(true, 0x82, 1, 1, 0x37), vcpu.run(), "the IN read the answer");
        assertEquals(new VcpuExit.Mmio(MMIO, true, 4, 0x12345678), vcpu.run());
        assertEquals(new VcpuExit.Mmio(MMIO, false, 4, 0), vcpu.run(), "the write is not repeated");
        vcpu.answerMmioRead(0xCAFEBABEL);
        assertEquals(new VcpuExit.Io(true, 0x83, 4, 1, 0xCAFEBABEL), vcpu.run(), "the load read the answer");
        assertEquals(new VcpuExit.RdMsr(NOBODY_KNOWS, (int) VmFd.MSR_EXIT_REASON_UNKNOWN), vcpu.run(),
                "an MSR nobody registered reaches the VMM");
        vcpu.answerRdmsr(0x1122334455667788L);
        assertEquals(new VcpuExit.Io(true, 0x84, 4, 1, 0x55667788L), vcpu.run());
        assertEquals(new VcpuExit.Io(true, 0x85, 4, 1, 0x11223344L), vcpu.run());
        assertEquals(new VcpuExit.WrMsr(VP_INDEX, (int) VmFd.MSR_EXIT_REASON_FILTER, 7), vcpu.run());
        VcpuExit efer = vcpu.run(); // accepted by not refusing; the EFER read is the emulator's own
        assertInstanceOf(VcpuExit.Io.class, efer);
        assertEquals(0x86, ((VcpuExit.Io) efer).port());
        assertTrue((((VcpuExit.Io) efer).data() & 0x500) == 0x500, "EFER.LME and LMA read inside: " + efer);
        assertEquals(new VcpuExit.Io(true, 0x87, 4, 1, 0x07000800L), vcpu.run(), "CPUID from the table set");
        long hlt = CODE + code.size() - 3;
        assertEquals(new VcpuExit.Hlt(), vcpu.run());
        assertEquals(hlt + 1, vcpu.getRegs().rip, "RIP after the HLT, as KVM leaves it");
        assertInstanceOf(VcpuExit.Io.class, vcpu.run(), "it goes on after the HLT");
        assertThrows(IllegalStateException.class, () -> vcpu.answerRdmsr(1), "nothing to answer");
        vcpu.close();
    }

    /**
     * The WRMSR sits in the first block the engine ever runs, translated before the scan found it: it is caught only
     * because every instruction consults the hook list (EmulatedVcpu.NEVER_EXECUTED).
     */
    @Test
    void aRefusedWrmsrAndAnUnknownMsrReachTheGuestAsGpThroughItsIdt() {
        vm.enableCap(new KvmEnableCap(KvmCapability.X86_USER_SPACE_MSR, VmFd.MSR_EXIT_REASON_FILTER));
        vm.setMsrFilter(new KvmMsrFilter(false, List.of(KvmMsrFilter.Range.denying(VP_INDEX,
                KvmMsrFilter.READ | KvmMsrFilter.WRITE))));
        installGdt();
        installGpGate();
        load(GP_HANDLER, gpHandler());
        Code code = new Code()
                .bytes(0xB9).imm32(VP_INDEX).bytes(0x31, 0xC0).bytes(0x31, 0xD2); // mov ecx, VP; xor eax; xor edx
        long wrmsr = CODE + code.size();
        code.bytes(0x0F, 0x30).bytes(0xE6, 0x92)                   // wrmsr; out 0x92, al
                .bytes(0xB9).imm32(NOBODY_KNOWS);                  // mov ecx, 0x12345
        long rdmsr = CODE + code.size();
        code.bytes(0x0F, 0x32).bytes(0xE6, 0x94).bytes(0xF4);      // rdmsr; out 0x94, al; hlt
        load(CODE, code.build());
        HypervisorVcpu vcpu = vcpu(256 * 16 - 1);

        assertEquals(new VcpuExit.WrMsr(VP_INDEX, (int) VmFd.MSR_EXIT_REASON_FILTER, 0), vcpu.run());
        vcpu.refuseMsrAccess();
        assertEquals(new VcpuExit.Io(true, 0x91, 4, 1, wrmsr), vcpu.run(), "the handler saw the WRMSR's RIP");
        assertEquals(new VcpuExit.Io(true, 0x93, 4, 1, 0), vcpu.run(), "error code 0");
        assertEquals(0x92, ((VcpuExit.Io) vcpu.run()).port(), "iretq returned past the WRMSR");
        // UNKNOWN exits are off: KVM would inject #GP for an MSR it does not know, and so does the emulator.
        assertEquals(new VcpuExit.Io(true, 0x91, 4, 1, rdmsr), vcpu.run(), "#GP without an exit");
        assertEquals(0x93, ((VcpuExit.Io) vcpu.run()).port());
        assertEquals(0x94, ((VcpuExit.Io) vcpu.run()).port());
        assertEquals(new VcpuExit.Hlt(), vcpu.run());
        vcpu.close();
    }

    @Test
    void anExceptionTheGuestCannotTakeIsATripleFault() {
        load(CODE, new Code().bytes(0x0F, 0x0B).build()); // ud2
        HypervisorVcpu vcpu = vcpu(0); // no IDT: #UD → #GP → #DF → shutdown
        assertEquals(new VcpuExit.Shutdown(), vcpu.run());
        vcpu.close();
    }

    @Test
    void aGpWithoutAGateIsADoubleFaultThenAShutdown() {
        vm.enableCap(new KvmEnableCap(KvmCapability.X86_USER_SPACE_MSR, VmFd.MSR_EXIT_REASON_FILTER));
        vm.setMsrFilter(new KvmMsrFilter(true, List.of()));
        load(CODE, new Code().bytes(0xB9).imm32(VP_INDEX).bytes(0x0F, 0x30).build()); // wrmsr
        HypervisorVcpu vcpu = vcpu(256 * 16 - 1); // an IDT with no gate present
        assertEquals(new VcpuExit.WrMsr(VP_INDEX, (int) VmFd.MSR_EXIT_REASON_FILTER, 0), vcpu.run());
        vcpu.refuseMsrAccess();
        assertEquals(new VcpuExit.Shutdown(), vcpu.run());
        vcpu.close();
    }

    @Test
    void executingOutsideEverySlotIsAnInternalError() {
        load(CODE, new Code().bytes(0x48, 0xB8).imm64(MMIO).bytes(0xFF, 0xE0).build()); // mov rax, MMIO; jmp rax
        HypervisorVcpu vcpu = vcpu(0);
        VcpuExit exit = vcpu.run();
        assertInstanceOf(VcpuExit.InternalError.class, exit);
        assertEquals(1, ((VcpuExit.InternalError) exit).suberror(), "KVM_INTERNAL_ERROR_EMULATION");
        assertEquals(List.of((long) Unicorn.ERR_FETCH_UNMAPPED, MMIO), ((VcpuExit.InternalError) exit).data());
        vcpu.close();
    }

    /** CR4.OSFXSR: without it the guest's SSE instructions are #UD. */
    private static final long CR4_OSFXSR = 1L << 9;

    @Test
    void theFpuStateSetIsWhatTheGuestComputesWithAndGetFpuReadsItBack() {
        load(CODE, new Code().bytes(0x66, 0x0F, 0x6F, 0xCB).bytes(0xE6, 0x80).build()); // movdqa xmm1, xmm3; out
        HypervisorVcpu vcpu = vcpu(0);
        KvmSregs sregs = vcpu.getSregs();
        sregs.cr4 |= CR4_OSFXSR;
        vcpu.setSregs(sregs);
        KvmFpu fpu = new KvmFpu();
        for (int i = 0; i < KvmFpu.REGISTER_BYTES; i++) {
            fpu.xmm[3 * KvmFpu.REGISTER_BYTES + i] = (byte) (0xA0 + i);
            fpu.xmm[15 * KvmFpu.REGISTER_BYTES + i] = (byte) (0x30 + i);
        }
        for (int i = 0; i < 10; i++) { // an 80-bit value in the first 10 bytes of its 16
            fpu.fpr[2 * KvmFpu.REGISTER_BYTES + i] = (byte) (i + 1);
        }
        fpu.fcw = 0x027F;
        fpu.fsw = 0x3800; // TOP = 7
        fpu.ftwx = 0x84;
        fpu.mxcsr = 0x1F83;
        vcpu.setFpu(fpu);

        assertEquals(0x80, ((VcpuExit.Io) vcpu.run()).port());
        KvmFpu after = vcpu.getFpu();

        byte[] xmm3 = Arrays.copyOfRange(fpu.xmm, 3 * 16, 4 * 16);
        assertArrayEquals(xmm3, Arrays.copyOfRange(after.xmm, 16, 32), "the guest copied XMM3 into XMM1");
        assertArrayEquals(xmm3, Arrays.copyOfRange(after.xmm, 3 * 16, 4 * 16));
        assertArrayEquals(Arrays.copyOfRange(fpu.xmm, 15 * 16, 16 * 16), Arrays.copyOfRange(after.xmm, 15 * 16, 256));
        assertArrayEquals(Arrays.copyOfRange(fpu.fpr, 32, 42), Arrays.copyOfRange(after.fpr, 32, 42));
        assertEquals(fpu.fcw, after.fcw);
        assertEquals(fpu.fsw, after.fsw);
        assertEquals(fpu.ftwx, after.ftwx);
        assertEquals(fpu.mxcsr, after.mxcsr);
        vcpu.close();
    }

    @Test
    void theXsaveAreaIsTheLegacyStateBothWaysAndWhatTheEmulatorLacksIsRefusedOrAbsent() {
        HypervisorVcpu vcpu = vcpu(0);
        KvmFpu fpu = vcpu.getFpu();
        Arrays.fill(fpu.xmm, 5 * KvmFpu.REGISTER_BYTES, 6 * KvmFpu.REGISTER_BYTES, (byte) 0x5E);
        fpu.fcw = 0x027F;
        fpu.mxcsr = 0x3F80;
        KvmXsave xsave = KvmXsave.ofLegacyState(fpu);

        vcpu.setXsave(xsave);

        KvmXsave back = vcpu.getXsave().orElseThrow();
        assertEquals(KvmXsave.X87 | KvmXsave.SSE, back.xstateBv());
        assertArrayEquals(Arrays.copyOfRange(fpu.xmm, 5 * 16, 6 * 16),
                Arrays.copyOfRange(vcpu.getFpu().xmm, 5 * 16, 6 * 16), "XMM5 through KVM_GET_FPU");
        assertEquals(0x027F, back.legacyState().fcw);
        assertEquals(0x3F80, back.legacyState().mxcsr);

        byte[] withAvx = back.region();
        withAvx[KvmXsave.XSTATE_BV] |= (byte) KvmXsave.AVX;
        assertThrows(UnsupportedOperationException.class, () -> vcpu.setXsave(new KvmXsave(withAvx)));
        assertTrue(vcpu.getXcrs().isEmpty(), "no XCR0: the emulated CPU has no XSAVE");
        assertThrows(UnsupportedOperationException.class,
                () -> vcpu.setXcrs(List.of(new XcrEntry(XcrEntry.XCR0, KvmXsave.X87))));
        int hostKhz = vcpu.getTscKhz().orElseThrow();
        vcpu.setTscKhz(hostKhz + hostKhz / 10_000); // 100 ppm off: the same rate, measured by another process
        assertThrows(UnsupportedOperationException.class, () -> vcpu.setTscKhz(hostKhz / 2));
        vcpu.close();
    }

    @Test
    void eventsAreNonePendingAndOnlyThatIsTaken() {
        HypervisorVcpu vcpu = vcpu(0);
        KvmVcpuEvents events = vcpu.getVcpuEvents().orElseThrow();
        assertTrue(events.nonePending());

        vcpu.setVcpuEvents(events);

        events.nmiPending = 1;
        assertThrows(UnsupportedOperationException.class, () -> vcpu.setVcpuEvents(events));
        assertTrue(vcpu.getVcpuEvents().orElseThrow().nonePending());
        vcpu.close();
    }

    @Test
    void exitRoundTrip() {
        load(CODE, new Code().bytes(0xE6, 0x80).bytes(0xEB, 0xFC).build()); // out 0x80, al; jmp back
        HypervisorVcpu vcpu = vcpu(0);
        int exits = 100_000;
        for (int i = 0; i < 200_000; i++) { // until the JIT has compiled the hooks and the run loop
            vcpu.run();
        }
        long started = System.nanoTime();
        for (int i = 0; i < exits; i++) {
            assertEquals(0x80, ((VcpuExit.Io) vcpu.run()).port());
        }
        double micros = (System.nanoTime() - started) / 1000.0 / exits;
        System.out.printf("EmulatedVcpuTest: OUT exit round trip %.2f µs (%d exits)%n", micros, exits);
        vcpu.close();
    }

    /**
     * A kick from another thread always brings a spinning guest out with Interrupted, however it falls relative to
     * the slices and however soon the vCPU re-enters after the last one; the flag stays set until cleared.
     */
    @Test
    void aKickIsNeverLost() throws Exception {
        load(CODE, new Code().bytes(0xEB, 0xFE).build()); // jmp $
        int kicks = 2000;
        CountDownLatch created = new CountDownLatch(1);
        HypervisorVcpu[] holder = new HypervisorVcpu[1];
        java.util.concurrent.Semaphore running = new java.util.concurrent.Semaphore(0);
        long[] latencies = new long[kicks];
        AtomicLong kickedAt = new AtomicLong();
        CompletableFuture<Void> vcpuThread = CompletableFuture.runAsync(() -> {
            HypervisorVcpu vcpu = vcpu(0);
            holder[0] = vcpu;
            created.countDown();
            try {
                for (int i = 0; i < kicks; i++) {
                    running.release();
                    VcpuExit exit = vcpu.run();
                    latencies[i] = System.nanoTime() - kickedAt.get();
                    assertEquals(new VcpuExit.Interrupted(), exit, "kick " + i);
                    assertEquals(new VcpuExit.Interrupted(), vcpu.run(), "the kick is a level until cleared");
                    vcpu.requestImmediateExit(false);
                }
            } finally {
                vcpu.close();
            }
        });
        assertTrue(created.await(10, TimeUnit.SECONDS));
        for (int i = 0; i < kicks; i++) {
            assertTrue(running.tryAcquire(10, TimeUnit.SECONDS), "the vCPU came back from kick " + (i - 1));
            if (i % 2 == 0) {
                Thread.onSpinWait(); // odd kicks land at once, even ones after the slice has begun
                Thread.sleep(0, 200_000);
            }
            kickedAt.set(System.nanoTime());
            holder[0].requestImmediateExit(true);
        }
        vcpuThread.get(30, TimeUnit.SECONDS);
        Arrays.sort(latencies);
        System.out.printf("EmulatedVcpuTest: %d kicks, none lost; kick to Interrupted p50 %d µs, p99 %d µs%n", kicks,
                latencies[kicks / 2] / 1000, latencies[kicks * 99 / 100] / 1000);
    }

    /** Little-endian machine code. */
    static final class Code {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Code bytes(int... values) {
            for (int b : values) {
                out.write(b);
            }
            return this;
        }

        Code imm32(long value) {
            for (int i = 0; i < 4; i++) {
                out.write((int) (value >>> (8 * i)));
            }
            return this;
        }

        Code imm64(long value) {
            return imm32(value).imm32(value >>> 32);
        }

        int size() {
            return out.size();
        }

        byte[] build() {
            return out.toByteArray();
        }
    }
}

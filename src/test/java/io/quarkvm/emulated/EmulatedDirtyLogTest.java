package io.quarkvm.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmUserspaceMemoryRegion;
import io.quarkvm.kvm.NativeMapping;
import io.quarkvm.kvm.VcpuExit;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

/** KVM_GET_DIRTY_LOG on the emulated backend, against what a guest really writes. */
class EmulatedDirtyLogTest {

    private static final long RAM = 8L << 20;
    private static final long CODE = 0x8000;

    @Test
    void thePagesTheGuestWroteAndOnlyThoseAreDirtyOncePerWrite() {
        EmulatedHypervisor hypervisor = TestHypervisors.emulatedOrSkip();
        try (NativeMapping ram = NativeMapping.anonymous(RAM); HypervisorVm vm = hypervisor.createVm()) {
            vm.setUserMemoryRegion(new KvmUserspaceMemoryRegion(0, KvmUserspaceMemoryRegion.LOG_DIRTY_PAGES, 0, RAM,
                    ram.address()));
            long[] targets = {0x20_0000, 0x20_0FF8, 0x35_1234, 0x7F_F000};
            EmulatedVcpuTest.Code code = new EmulatedVcpuTest.Code().bytes(0xB8).imm32(0x5A5A5A5A); // mov eax, ..
            for (long target : targets) {
                code.bytes(0x48, 0xBB).imm64(target).bytes(0x89, 0x03); // mov rbx, target; mov [rbx], eax
            }
            code.bytes(0xF4);                                          // hlt
            code.bytes(0x48, 0xBB).imm64(0x20_0000).bytes(0x89, 0x03);  // the same value again: no change
            code.bytes(0xB0, 0x01).bytes(0x88, 0x03).bytes(0xF4);      // mov al, 1; mov [rbx], al; hlt
            ram.pointer().put(CODE, code.build(), 0, code.size());

            assertEquals(pages(CODE / 4096), vm.getDirtyLog(0), "the host's own write of the code counts");
            HypervisorVcpu vcpu = vm.createVcpu(0);
            KvmRegs regs = new KvmRegs();
            regs.rip = CODE;
            regs.rsp = 0x10000;
            regs.rflags = KvmRegs.RFLAGS_RESERVED;
            vcpu.setRegs(regs);
            assertEquals(new VcpuExit.Hlt(), vcpu.run());
            assertEquals(pages(0x200, 0x351, 0x7FF), vm.getDirtyLog(0), "two writes into page 0x200 count once");
            assertEquals(new BitSet(), vm.getDirtyLog(0), "each call starts a new interval");
            assertEquals(new VcpuExit.Hlt(), vcpu.run());
            assertEquals(pages(0x200), vm.getDirtyLog(0), "rewriting the same bytes is no change; the byte is");
            vcpu.close();
            assertThrows(IllegalArgumentException.class, () -> vm.getDirtyLog(1), "no such slot");
        }
    }

    /**
     * As KVM's flags-only change of a slot (KVM_MR_FLAGS_ONLY), KVM_MEM_LOG_DIRTY_PAGES comes and goes on a slot that
     * vCPUs already use: what a migration of a running VM does. The log starts with every page clean.
     */
    @Test
    void theLogStartsAndEndsWithAFlagsOnlyChangeWhileVcpusExist() {
        EmulatedHypervisor hypervisor = TestHypervisors.emulatedOrSkip();
        try (NativeMapping ram = NativeMapping.anonymous(RAM); HypervisorVm vm = hypervisor.createVm()) {
            KvmUserspaceMemoryRegion plain = new KvmUserspaceMemoryRegion(0, 0, 0, RAM, ram.address());
            KvmUserspaceMemoryRegion logged = new KvmUserspaceMemoryRegion(0, KvmUserspaceMemoryRegion.LOG_DIRTY_PAGES,
                    0, RAM, ram.address());
            vm.setUserMemoryRegion(plain);
            HypervisorVcpu vcpu = vm.createVcpu(0);
            ram.pointer().putByte(0x10_0000, (byte) 1); // written before the log: not dirty
            assertThrows(IllegalArgumentException.class, () -> vm.getDirtyLog(0), "no log yet");

            vm.setUserMemoryRegion(logged);
            assertEquals(new BitSet(), vm.getDirtyLog(0), "every page clean when the log starts");
            ram.pointer().putByte(0x20_0000, (byte) 1);
            vm.setUserMemoryRegion(logged);
            assertEquals(pages(0x200), vm.getDirtyLog(0), "setting the same flags again keeps the log as it is");

            vm.setUserMemoryRegion(plain);
            assertThrows(IllegalArgumentException.class, () -> vm.getDirtyLog(0), "the log has ended");
            assertThrows(IllegalStateException.class, () -> vm.setUserMemoryRegion(
                    new KvmUserspaceMemoryRegion(0, 0, 0, RAM / 2, ram.address())), "only the flags may change");
            vcpu.close();
        }
    }

    @Test
    void comparisonSpeedPerGibibyte() {
        EmulatedHypervisor hypervisor = TestHypervisors.emulatedOrSkip();
        long size = 256L << 20; // a quarter of a GiB keeps the test's memory small on a shared machine
        try (NativeMapping ram = NativeMapping.anonymous(size); HypervisorVm vm = hypervisor.createVm()) {
            for (long page = 0; page < size; page += 4096) {
                ram.pointer().putByte(page, (byte) 1); // every page backed, as in a guest that has used its RAM
            }
            vm.setUserMemoryRegion(new KvmUserspaceMemoryRegion(0, KvmUserspaceMemoryRegion.LOG_DIRTY_PAGES, 0, size,
                    ram.address()));
            for (long page = 0; page < size; page += 64 * 4096) {
                ram.pointer().putByte(page + 7, (byte) 2); // one page in 64 written
            }
            long started = System.nanoTime();
            BitSet dirty = vm.getDirtyLog(0);
            long firstMillis = (System.nanoTime() - started) / 1_000_000;
            started = System.nanoTime();
            BitSet clean = vm.getDirtyLog(0);
            long cleanMillis = (System.nanoTime() - started) / 1_000_000;
            assertEquals(size / 4096 / 64, dirty.cardinality());
            assertEquals(0, clean.cardinality());
            long perGiB = (1L << 30) / size;
            System.out.printf("EmulatedDirtyLogTest: 1 page in 64 dirty: %d ms/GiB; nothing dirty: %d ms/GiB%n",
                    firstMillis * perGiB, cleanMillis * perGiB);
        }
    }

    private static BitSet pages(long... numbers) {
        BitSet set = new BitSet();
        for (long number : numbers) {
            set.set((int) number);
        }
        return set;
    }
}

package io.quarkvm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every call on a handle whose descriptor is -2 fails with EBADF and names its ioctl; no KVM needed. */
class FaultyFdTest {

    private static final int BAD_FD = -2;

    @Test
    void systemHandleCallsFailWithEbadf() {
        Kvm kvm = Kvm.onDescriptor(BAD_FD);
        assertAllFail(Map.of(
                "KVM_GET_API_VERSION", kvm::apiVersion,
                "KVM_CHECK_EXTENSION", () -> kvm.checkExtension(KvmCapability.MAX_VCPUS),
                "KVM_GET_VCPU_MMAP_SIZE", kvm::vcpuMmapSize,
                "KVM_GET_SUPPORTED_CPUID", kvm::supportedCpuid,
                "close", kvm::close));
    }

    @Test
    void createVmFailsOnTheFirstIoctl() {
        KvmException failure = assertThrows(KvmException.class, Kvm.onDescriptor(BAD_FD)::createVm);
        assertEquals("KVM_GET_VCPU_MMAP_SIZE", failure.call());
        assertEquals(Errno.EBADF, failure.errno());
    }

    @Test
    void vmHandleCallsFailWithEbadf() {
        VmFd vm = VmFd.onDescriptor(BAD_FD, 4096);
        assertAllFail(Map.of(
                "KVM_SET_USER_MEMORY_REGION", () -> vm.setUserMemoryRegion(
                        new KvmUserspaceMemoryRegion(0, 0, 0, 4096, 0)),
                "KVM_ENABLE_CAP", () -> vm.enableCap(
                        new KvmEnableCap(KvmCapability.X86_USER_SPACE_MSR, VmFd.MSR_EXIT_REASON_FILTER)),
                "KVM_X86_SET_MSR_FILTER", () -> vm.setMsrFilter(new KvmMsrFilter(false,
                        List.of(KvmMsrFilter.Range.denying(0x40000002, KvmMsrFilter.READ)))),
                "KVM_CREATE_VCPU", () -> vm.createVcpu(0),
                "close", vm::close));
    }

    @Test
    void vcpuHandleCallsFailWithEbadf() {
        VcpuFd vcpu = new VcpuFd(BAD_FD, 0, NativeMapping.anonymous(4096),
                new VcpuStateSupport(KvmXsave.SIZE, true, true, true, true));
        KvmRegs regs = new KvmRegs();
        assertAllFail(Map.ofEntries(
                Map.entry("KVM_RUN", vcpu::run),
                Map.entry("KVM_GET_REGS", vcpu::getRegs),
                Map.entry("KVM_SET_REGS", () -> vcpu.setRegs(regs)),
                Map.entry("KVM_GET_SREGS", vcpu::getSregs),
                Map.entry("KVM_SET_CPUID2", () -> vcpu.setCpuid2(List.of(new CpuidEntry(1, 0, 0, 0, 0, 0, 0)))),
                Map.entry("KVM_GET_CPUID2", vcpu::getCpuid2),
                Map.entry("KVM_GET_MSRS", () -> vcpu.getMsrs(0x10)),
                Map.entry("KVM_SET_MSRS", () -> vcpu.setMsrs(List.of(new MsrEntry(0x10, 0)))),
                Map.entry("KVM_GET_MP_STATE", vcpu::getMpState),
                Map.entry("KVM_SET_MP_STATE", () -> vcpu.setMpState(KvmMpState.RUNNABLE)),
                Map.entry("KVM_GET_XSAVE2", vcpu::getXsave),
                Map.entry("KVM_SET_XSAVE", () -> vcpu.setXsave(new KvmXsave(new byte[KvmXsave.SIZE]))),
                Map.entry("KVM_GET_XCRS", vcpu::getXcrs),
                Map.entry("KVM_SET_XCRS", () -> vcpu.setXcrs(List.of(new XcrEntry(XcrEntry.XCR0, 1)))),
                Map.entry("KVM_GET_VCPU_EVENTS", vcpu::getVcpuEvents),
                Map.entry("KVM_SET_VCPU_EVENTS", () -> vcpu.setVcpuEvents(new KvmVcpuEvents())),
                Map.entry("KVM_GET_TSC_KHZ", vcpu::getTscKhz),
                Map.entry("KVM_SET_TSC_KHZ", () -> vcpu.setTscKhz(1_000_000)),
                Map.entry("KVM_SET_SIGNAL_MASK", () -> vcpu.setSignalMask(0)),
                Map.entry("close", vcpu::close)));
    }

    @Test
    void aClosedHandleNeverReachesTheKernelAgain() {
        VmFd vm = VmFd.onDescriptor(BAD_FD, 4096);
        assertThrows(KvmException.class, vm::close);
        vm.close(); // a second close does nothing
        KvmException failure = assertThrows(KvmException.class, () -> vm.createVcpu(0));
        assertEquals(Errno.EBADF, failure.errno());
    }

    private static void assertAllFail(Map<String, Executable> calls) {
        calls.forEach((ioctl, call) -> {
            KvmException failure = assertThrows(KvmException.class, call, ioctl);
            assertEquals(ioctl, failure.call());
            assertEquals(Errno.EBADF, failure.errno(), failure.getMessage());
            assertTrue(failure.getMessage().startsWith(ioctl + " failed: EBADF"), failure.getMessage());
        });
    }
}

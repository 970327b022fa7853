package io.quarkvm.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Opens the real /dev/kvm, prints what this node offers, and checks the calls quarkvm builds on. */
class KvmCapabilityProbeTest {

    @Test
    void printsTheCapabilitiesOfThisNode() {
        try (Kvm kvm = KvmAvailability.openOrSkip()) {
            assertEquals(Kvm.API_VERSION, kvm.apiVersion());
            System.out.println("KVM API version " + kvm.apiVersion() + ", vCPU mmap size " + kvm.vcpuMmapSize());
            for (KvmCapability capability : KvmCapability.values()) {
                System.out.printf("  %-30s %d%n", capability.cName(), kvm.checkExtension(capability));
            }
            assertTrue(kvm.vcpuMmapSize() >= 4096);
            assertTrue(kvm.checkExtension(KvmCapability.MAX_VCPUS) >= kvm.checkExtension(KvmCapability.NR_VCPUS));
            assertTrue(kvm.checkExtension(KvmCapability.IMMEDIATE_EXIT) > 0, "kicking vCPUs relies on immediate_exit");

            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            System.out.println("  KVM_GET_SUPPORTED_CPUID: " + cpuid.size() + " entries");
            assertFalse(cpuid.isEmpty());
            assertTrue(cpuid.stream().anyMatch(entry -> entry.function() == 0x1), "leaf 0x1 supported");
        }
    }

    @Test
    void createsAVmAndAVcpuAndReleasesThem() {
        try (Kvm kvm = KvmAvailability.openOrSkip(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(5)) {
            assertEquals(5, vcpu.apicId());
            assertEquals(KvmMpState.RUNNABLE, vcpu.getMpState());
            KvmRegs regs = vcpu.getRegs();
            regs.rbx = 0x1234_5678_9abcL;
            vcpu.setRegs(regs);
            assertEquals(0x1234_5678_9abcL, vcpu.getRegs().rbx);
        }
    }
}

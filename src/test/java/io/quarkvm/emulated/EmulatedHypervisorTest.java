package io.quarkvm.emulated;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.Kvm;
import io.quarkvm.kvm.KvmAvailability;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.VcpuFd;
import io.quarkvm.kvm.VmFd;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the emulated hypervisor reports of itself, and what it says when the library is missing. */
class EmulatedHypervisorTest {

    @Test
    void aMissingLibraryIsNamedWithTheDebianPackageThatProvidesIt() {
        IllegalStateException missing = assertThrows(IllegalStateException.class,
                () -> EmulatedHypervisor.load("libunicorn-absent.so.2"));
        assertTrue(missing.getMessage().contains("libunicorn-absent.so.2"), missing.getMessage());
        assertTrue(missing.getMessage().contains("apt-get install libunicorn2"), missing.getMessage());
    }

    @Test
    void itReportsUserSpaceMsrExitsAndNoInKernelHypervAndTheEmulatedCpusOwnCpuid() {
        try (EmulatedHypervisor hypervisor = TestHypervisors.emulatedOrSkip()) {
            assertEquals(Kvm.API_VERSION, hypervisor.apiVersion());
            assertEquals(1, hypervisor.checkExtension(KvmCapability.X86_USER_SPACE_MSR));
            assertEquals(1, hypervisor.checkExtension(KvmCapability.X86_MSR_FILTER));
            assertEquals(0, hypervisor.checkExtension(KvmCapability.HYPERV_VP_INDEX));
            List<CpuidEntry> cpuid = hypervisor.supportedCpuid();
            CpuidEntry leaf0 = cpuid.stream().filter(e -> e.function() == 0).findFirst().orElseThrow();
            assertTrue(leaf0.eax() >= 1, "leaf 0 reports the highest basic leaf: " + leaf0);
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 1), "leaf 1 is there");
            assertTrue(cpuid.stream().anyMatch(e -> e.function() == 0x80000001), "extended leaves are there");
            long longMode = cpuid.stream().filter(e -> e.function() == 0x80000001).findFirst().orElseThrow().edx()
                    & 1L << 29;
            assertEquals(1L << 29, longMode, "the emulated CPU has long mode");
        }
    }

    /**
     * An emulated guest's RDTSC reads the host's TSC, so the rate measured for it is the rate KVM gives a vCPU on
     * this host (the host's, unscaled), within the tolerance KVM itself allows a migrated rate.
     */
    @Test
    void theTscRateAnEmulatedGuestReadsIsTheHostsAsKvmGivesIt() {
        try (EmulatedHypervisor emulated = TestHypervisors.emulatedOrSkip(); Kvm kvm = KvmAvailability.openOrSkip();
             VmFd kvmVm = kvm.createVm(); VcpuFd kvmVcpu = kvmVm.createVcpu(0);
             HypervisorVm emulatedVm = emulated.createVm()) {
            int kvmKhz = kvmVcpu.getTscKhz().orElseThrow();
            HypervisorVcpu emulatedVcpu = emulatedVm.createVcpu(0);
            int emulatedKhz = emulatedVcpu.getTscKhz().orElseThrow();
            emulatedVcpu.close();
            System.out.printf("EmulatedHypervisorTest: TSC %d kHz measured for the emulated guest, "
                    + "KVM_GET_TSC_KHZ %d%n", emulatedKhz, kvmKhz);
            assertEquals(1, emulated.checkExtension(KvmCapability.GET_TSC_KHZ));
            assertTrue(Math.abs(emulatedKhz - kvmKhz) * 1e6 <= EmulatedVcpu.TSC_TOLERANCE_PPM * (double) kvmKhz,
                    emulatedKhz + " kHz against " + kvmKhz);
        }
    }
}

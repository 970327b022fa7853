package io.quarkvm.vmm;

import static io.quarkvm.vmm.DirtyingRate.ASKED_MIB_PER_SECOND;
import static io.quarkvm.vmm.DirtyingRate.awaitPagesWritten;
import static org.assertj.core.api.Assertions.assertThat;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVcpu;
import java.util.BitSet;
import org.junit.jupiter.api.Test;

/**
 * The dirty-memory guest on this node's hypervisor (KVM here; {@code -Dquarkvm.test.backend=emulated} for the
 * emulated backend): its boot vCPU rewrites its working set at 64 MiB/s by its TSC, which the host clock confirms
 * within a generous bound, and the dirty log sees the whole working set rewritten, while every vCPU goes on
 * heartbeating with its identity.
 */
class DirtyMemoryGuestTest {

    private static final Topology TWO = new Topology(1, 1, 2, 1);
    /** A behaviour check, not a performance target: the rate by the host clock within ±20 %. */
    private static final double RATE_TOLERANCE = 0.20;
    private static final long PAGES_OF_64_MIB = 64L << 20 >> 12;
    private static final int WORKING_SET_FIRST_PAGE = (int) (GuestDirtier.WORKING_SET_START / GuestLayout.PAGE_SIZE);

    private static VmSpec spec(int memoryMiB) {
        return new VmSpec(memoryMiB, TWO, VirtualMachineIdentityTest.boot(TWO, VpIndexPolicy.SLOT_INDEX, 2), true,
                VpIndexProvider.USERSPACE_MSR, GuestProgram.dirtyMemory());
    }

    @Test
    void theBootVcpuRewrites64MibAt64MibPerSecondAndTheDirtyLogSeesAllOfIt() throws Exception {
        try (Hypervisor hypervisor = TestHypervisors.open()) {
            ProbeReports reports = new ProbeReports(2);
            try (VirtualMachine vm = VirtualMachine.start(hypervisor, spec(128), reports)) {
                reports.awaitAllReported();
                int tscKhz = VmSnapshot.await(vm.onVcpuThread(0, HypervisorVcpu::getTscKhz), "read the TSC rate")
                        .orElseThrow();
                awaitPagesWritten(vm, PAGES_OF_64_MIB); // one sweep: the host has populated the working set
                DirtyingCounters counters = vm.dirtyingCounters();
                assertThat(counters.workingSetPages()).as("64 MiB of 4 KiB pages").isEqualTo(PAGES_OF_64_MIB);
                assertThat(counters.ticksPerPage()).as("from the TSC rate the VMM gave: %d kHz", tscKhz)
                        .isEqualTo(tscKhz * 1000L / GuestDirtier.PAGES_PER_SECOND);

                DirtyingRate rate = DirtyingRate.measure(vm, 1000);
                System.out.printf("DirtyMemoryGuestTest on %s: %.1f MiB/s by the host clock over %.3f s (asked %.0f);"
                                + " the guest's TSC advanced at %.0f kHz by the host clock, the VMM gave it %d kHz%n",
                        hypervisor, rate.mibPerSecond(), rate.seconds(), ASKED_MIB_PER_SECOND, rate.tscKhz(), tscKhz);
                assertThat(rate.mibPerSecond()).as("MiB/s by the host clock").isBetween(
                        ASKED_MIB_PER_SECOND * (1 - RATE_TOLERANCE), ASKED_MIB_PER_SECOND * (1 + RATE_TOLERANCE));
                assertThat(rate.tscKhz()).as("the rate of the guest's TSC by the host clock")
                        .isBetween(tscKhz * 0.9, tscKhz * 1.1);

                vm.startDirtyLogging();
                vm.collectDirtyPages(); // from now on
                awaitPagesWritten(vm, vm.dirtyingCounters().pagesWritten() + PAGES_OF_64_MIB);
                BitSet dirty = vm.collectDirtyPages();
                BitSet workingSet = new BitSet();
                workingSet.set(WORKING_SET_FIRST_PAGE, WORKING_SET_FIRST_PAGE + (int) PAGES_OF_64_MIB);
                BitSet dirtyInWorkingSet = (BitSet) dirty.clone();
                dirtyInWorkingSet.and(workingSet);
                assertThat(dirtyInWorkingSet).as("a whole sweep later, every page of the working set is dirty")
                        .isEqualTo(workingSet);
                assertThat(dirty.nextSetBit(WORKING_SET_FIRST_PAGE + (int) PAGES_OF_64_MIB))
                        .as("no page above the working set").isEqualTo(-1);

                Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + GuestProgram.PROBE_RECHECK_INTERVAL);
                assertThat(reports.violations).isEmpty();
                assertThat(reports.crashes).isEmpty();
            }
        }
    }

    /** Less than 64 MiB above 2 MiB: all of it is the working set; a VM of 2 MiB writes nothing. */
    @Test
    void aSmallerVmRewritesAllItsMemoryAbove2MibAndOneOf2MibNone() throws Exception {
        try (Hypervisor hypervisor = TestHypervisors.open()) {
            ProbeReports reports = new ProbeReports(2);
            try (VirtualMachine vm = VirtualMachine.start(hypervisor, spec(8), reports)) {
                reports.awaitAllReported();
                long sixMib = 6L << 20 >> 12;
                awaitPagesWritten(vm, 2 * sixMib);
                assertThat(vm.dirtyingCounters().workingSetPages()).as("the 6 MiB above 2 MiB").isEqualTo(sixMib);
                assertThat(reports.crashes).as("no write beyond memory").isEmpty();
            }
            ProbeReports smallest = new ProbeReports(2);
            try (VirtualMachine vm = VirtualMachine.start(hypervisor, spec(2), smallest)) {
                smallest.awaitAllReported();
                Heartbeats.awaitAtLeast(vm, 2 * GuestProgram.PROBE_RECHECK_INTERVAL);
                DirtyingCounters counters = vm.dirtyingCounters();
                assertThat(counters.workingSetPages()).isZero();
                assertThat(counters.pagesWritten()).isZero();
                assertThat(smallest.violations).isEmpty();
            }
        }
    }
}

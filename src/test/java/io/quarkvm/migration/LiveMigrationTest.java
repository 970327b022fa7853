package io.quarkvm.migration;

import static io.quarkvm.migration.Loopback.describe;
import static io.quarkvm.migration.Loopback.migrate;
import static org.assertj.core.api.Assertions.assertThat;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.KernelHyperv;
import io.quarkvm.vmm.DirtyingCounters;
import io.quarkvm.vmm.DirtyingRate;
import io.quarkvm.vmm.GuestIdentity;
import io.quarkvm.vmm.GuestProgram;
import io.quarkvm.vmm.Heartbeats;
import io.quarkvm.vmm.ProbeRecord;
import io.quarkvm.vmm.ProbeReports;
import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmSpec;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Live migration of real guests between two hypervisor handles of this process (two nodes), over loopback TCP: the
 * probe carries on across many hops with the identities it first saw, also when the target serves the VP index
 * another way, and pre-copy really iterates over a guest that keeps writing.
 */
class LiveMigrationTest {

    private static final Topology FOUR = new Topology(1, 1, 4, 1);
    /** Slots 0 and 1 at boot, then slot 3 hot-plugged before slot 2: cpu_index 2 has the higher APIC ID. */
    private static final List<VcpuIdentity> IDENTITIES = List.of(identity(0, 0), identity(1, 1), identity(3, 2),
            identity(2, 3));
    private static final OutgoingTransfer.Settings DEFAULTS = new OutgoingTransfer.Settings(Duration.ofMillis(50), 30);
    private static final int HOPS = 12;

    private static VcpuIdentity identity(int slot, int cpuIndex) {
        return VcpuIdentity.assign(FOUR, VpIndexPolicy.SLOT_INDEX, FOUR.slotAt(slot), cpuIndex);
    }

    private static VmSpec probeSpec(int memoryMiB, VpIndexProvider provider) {
        return VmSpec.probe(memoryMiB, FOUR, IDENTITIES.subList(0, 2), true, provider)
                .withKnownVcpus(IDENTITIES, VpIndexPolicy.SLOT_INDEX);
    }

    /** The target's resolver: the persisted spec, with the plugged vCPUs the header names if they are known ones. */
    private static IncomingTransfer.SpecResolver resolverFor(VmSpec persisted) {
        return header -> {
            assertThat(header.vmId()).isEqualTo(Loopback.VM_ID);
            return persisted.withPlugged(header.vcpus());
        };
    }

    @Test
    void aProbeWithVcpusHotpluggedOutOfOrderMigratesTwelveTimesAndCarriesOnWithItsIdentities() throws Exception {
        VmSpec spec = probeSpec(8, VpIndexProvider.USERSPACE_MSR);
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open()) {
            ProbeReports reports = new ProbeReports(0);
            VirtualMachine vm = VirtualMachine.start(nodeA, spec, reports);
            try {
                vm.hotplug(IDENTITIES.get(2));
                vm.hotplug(IDENTITIES.get(3));
                Heartbeats.awaitAtLeast(vm, 2 * GuestProgram.PROBE_RECHECK_INTERVAL);
                assertThat(reports.identities).hasSize(4);
                Map<Integer, GuestIdentity> firstSeen = firstSeen(vm);
                assertIdentitiesHold(vm, firstSeen);
                for (int hop = 0; hop < HOPS; hop++) {
                    long beatsBefore = Heartbeats.slowest(vm);
                    Loopback.Hop done = migrate(vm, hop % 2 == 0 ? nodeB : nodeA, resolverFor(spec), DEFAULTS);
                    vm = done.target();
                    System.out.printf("LiveMigrationTest: hop %d of an idle 4-vCPU 8 MiB probe: %s%n", hop + 1,
                            describe(done));
                    assertThat(Heartbeats.slowest(vm)).as("heartbeats go on from where they were")
                            .isGreaterThanOrEqualTo(beatsBefore);
                    Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + 2 * GuestProgram.PROBE_RECHECK_INTERVAL);
                    assertThat(vm.pluggedVcpus()).containsExactlyInAnyOrderElementsOf(IDENTITIES);
                    assertIdentitiesHold(vm, firstSeen);
                    assertThat(done.targetReports().identities).as("the probe never booted again").isEmpty();
                    assertThat(done.targetReports().violations).isEmpty();
                    assertThat(done.targetReports().crashes).isEmpty();
                    assertThat(done.result().converged()).as("an idle guest needs no round limit").isTrue();
                }
            } finally {
                vm.stop();
            }
        }
    }

    @Test
    void theVpIndexTheGuestReadsStaysWhenTheTargetSetsItInTheKernelAndWhenItComesBack() throws Exception {
        VmSpec userspace = probeSpec(8, VpIndexProvider.USERSPACE_MSR);
        VmSpec kernel = probeSpec(8, VpIndexProvider.KERNEL_SETTABLE);
        try (Hypervisor nodeA = TestHypervisors.open();
             Hypervisor nodeB = TestHypervisors.open(KernelHyperv.SETTABLE)) {
            ProbeReports reports = new ProbeReports(0);
            VirtualMachine vm = VirtualMachine.start(nodeA, userspace, reports);
            try {
                vm.hotplug(IDENTITIES.get(2));
                Heartbeats.awaitAtLeast(vm, 2 * GuestProgram.PROBE_RECHECK_INTERVAL);
                Map<Integer, GuestIdentity> firstSeen = firstSeen(vm);

                Loopback.Hop toKernel = migrate(vm, nodeB, resolverFor(kernel), DEFAULTS);
                vm = toKernel.target();
                assertThat(vm.spec().vpIndexProvider()).isEqualTo(VpIndexProvider.KERNEL_SETTABLE);
                Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + 2 * GuestProgram.PROBE_RECHECK_INTERVAL);
                assertIdentitiesHold(vm, firstSeen);
                assertThat(vm.counters(IDENTITIES.get(0).apicId()).rdmsrAnswered())
                        .as("the kernel answers the guest's RDMSR now, not the vCPU thread").isZero();

                Loopback.Hop back = migrate(vm, nodeA, resolverFor(userspace), DEFAULTS);
                vm = back.target();
                Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + 2 * GuestProgram.PROBE_RECHECK_INTERVAL);
                assertIdentitiesHold(vm, firstSeen);
                assertThat(vm.counters(IDENTITIES.get(0).apicId()).rdmsrAnswered()).isPositive();
                for (Loopback.Hop hop : List.of(toKernel, back)) {
                    assertThat(hop.targetReports().identities).isEmpty();
                    assertThat(hop.targetReports().violations).isEmpty();
                }
            } finally {
                vm.stop();
            }
        }
    }

    /**
     * After each pre-copy round the test waits until the guest has written its whole working set again (two more
     * heartbeats: one whole pass after the dirty log was read), so that every round finds it all dirty, however the
     * host schedules the guest: with no downtime allowed the transfer goes to its round limit.
     */
    @Test
    void preCopyIteratesOverAGuestThatKeepsWritingAndTheLastRoundSendsOnlyItsWorkingSet() throws Exception {
        int workingSet = 4096;
        VmSpec spec = new VmSpec(64, new Topology(1, 1, 1, 1), IDENTITIES.subList(0, 1), false,
                VpIndexProvider.USERSPACE_MSR, GuestProgram.dirtying(workingSet));
        long memoryPages = (64L << 20) / VirtualMachine.PAGE_SIZE;
        OutgoingTransfer.Settings noDowntime = new OutgoingTransfer.Settings(Duration.ZERO, 4);
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open()) {
            VirtualMachine source = VirtualMachine.start(nodeA, spec, new ProbeReports(0));
            VirtualMachine vm = source;
            try {
                Heartbeats.awaitAtLeast(source, 2);
                Loopback.Hop done = migrate(source, nodeB, header -> spec, noDowntime, round -> {
                    try {
                        Heartbeats.awaitAtLeast(source, Heartbeats.slowest(source) + 2);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                vm = done.target();
                System.out.printf("LiveMigrationTest: a guest writing %d pages of 64 MiB: %s; %s%n", workingSet,
                        describe(done), done.rounds());
                assertThat(done.result().converged()).isFalse();
                assertThat(done.result().rounds()).as("4 pre-copy rounds, then stop-and-copy").isEqualTo(5);
                // Round 0 sends only the pages the host populated, quickly: the guest may not have rewritten all of
                // its working set while it went. The wait after each round lets it before every later count.
                assertThat(done.rounds()).hasSize(4);
                assertThat(done.rounds().get(0).dirtyPages()).as("written during round 0").isPositive();
                assertThat(done.rounds().subList(1, 4)).allSatisfy(round -> assertThat(round.dirtyPages())
                        .as("written during round %d", round.round()).isGreaterThanOrEqualTo(workingSet));
                assertThat(done.rounds().get(0).pagesSent()).as("round 0: every page written so far")
                        .isGreaterThanOrEqualTo(workingSet);
                assertThat(done.rounds().get(1).pagesSent()).as("round 1: what round 0 found dirty")
                        .isEqualTo(done.rounds().get(0).dirtyPages());
                assertThat(done.rounds().subList(2, 4)).allSatisfy(round -> assertThat(round.pagesSent())
                        .as("round %d: the working set and the record", round.round())
                        .isBetween(workingSet, workingSet + 1));
                assertThat(done.result().lastRoundPages()).isBetween(workingSet, workingSet + 1);
                assertThat((long) done.result().lastRoundPages()).isLessThan(memoryPages);
                Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + 2);

                Loopback.Hop limited = migrate(vm, nodeA, header -> spec,
                        new OutgoingTransfer.Settings(Duration.ofMillis(50), 5));
                vm = limited.target();
                System.out.printf("LiveMigrationTest: the same guest with a downtime limit of 50 ms: %s; %s%n",
                        describe(limited), limited.rounds());
                assertThat(limited.result().rounds()).isBetween(2, 6);
                Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + 2);
            } finally {
                vm.stop();
                source.stop();
            }
        }
    }

    /**
     * The dirty-memory guest, written its 64 MiB once, migrates with the default downtime limit and goes on at
     * 64 MiB/s on the target (±20 % by the host clock, as before it left): its pacing registers and TSC go with it.
     */
    @Test
    void theDirtyMemoryGuestMigratesAndGoesOnAtItsRate() throws Exception {
        VmSpec spec = new VmSpec(128, new Topology(1, 1, 1, 1), IDENTITIES.subList(0, 1), false,
                VpIndexProvider.USERSPACE_MSR, GuestProgram.dirtyMemory());
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open()) {
            VirtualMachine vm = VirtualMachine.start(nodeA, spec, new ProbeReports(0));
            try {
                DirtyingRate.awaitPagesWritten(vm, vm.dirtyingCounters().workingSetPages());
                DirtyingRate before = DirtyingRate.measure(vm, 1000);
                Loopback.Hop done = migrate(vm, nodeB, header -> spec, DEFAULTS);
                vm = done.target();
                // The pages that fell due while it was paused are written first, faster: measure once past them.
                DirtyingCounters arrived = vm.dirtyingCounters();
                DirtyingRate.awaitPagesWritten(vm, arrived.pagesWritten() + arrived.workingSetPages() / 4);
                DirtyingRate after = DirtyingRate.measure(vm, 1000);
                System.out.printf("LiveMigrationTest: the dirty-memory guest at %.1f MiB/s, then on the target %.1f"
                        + " MiB/s: %s; %s%n", before.mibPerSecond(), after.mibPerSecond(), describe(done),
                        done.rounds());
                assertThat(after.mibPerSecond()).as("MiB/s on the target by the host clock").isBetween(
                        DirtyingRate.ASKED_MIB_PER_SECOND * 0.8, DirtyingRate.ASKED_MIB_PER_SECOND * 1.2);
                assertThat(done.targetReports().violations).isEmpty();
            } finally {
                vm.stop();
            }
        }
    }

    @Test
    void round0OfAnIdle256MibProbeSendsOnlyItsNonZeroPages() throws Exception {
        VmSpec spec = VmSpec.probe(256, FOUR, IDENTITIES.subList(0, 1), true, VpIndexProvider.USERSPACE_MSR)
                .withKnownVcpus(IDENTITIES, VpIndexPolicy.SLOT_INDEX);
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open()) {
            VirtualMachine vm = VirtualMachine.start(nodeA, spec, new ProbeReports(0));
            try {
                Heartbeats.awaitAtLeast(vm, GuestProgram.PROBE_RECHECK_INTERVAL);
                Loopback.Hop done = migrate(vm, nodeB, resolverFor(spec), DEFAULTS);
                vm = done.target();
                System.out.printf("LiveMigrationTest: an idle 1-vCPU 256 MiB probe: %s; round 0 sent %d pages%n",
                        describe(done), done.rounds().get(0).pagesSent());
                assertThat(done.rounds().get(0).pagesSent()).as("the boot structures, code, record and stack")
                        .isLessThan(64);
                assertThat(done.result().bytesSent()).as("far below the 256 MiB of memory")
                        .isLessThan(vm.memoryBytes() / 100);
                Heartbeats.awaitAtLeast(vm, Heartbeats.slowest(vm) + GuestProgram.PROBE_RECHECK_INTERVAL);
            } finally {
                vm.stop();
            }
        }
    }

    private static Map<Integer, GuestIdentity> firstSeen(VirtualMachine vm) {
        Map<Integer, GuestIdentity> first = new HashMap<>();
        vm.pluggedVcpus().forEach(identity -> first.put(identity.cpuIndex(),
                vm.probeRecord(identity.cpuIndex()).first()));
        return first;
    }

    /** No violation, the first values those of the first VM, and the latest re-check read the persisted identity. */
    private static void assertIdentitiesHold(VirtualMachine vm, Map<Integer, GuestIdentity> firstSeen) {
        for (VcpuIdentity identity : vm.pluggedVcpus()) {
            ProbeRecord record = vm.probeRecord(identity.cpuIndex());
            assertThat(record.violations()).as("violations of %s", identity).isZero();
            assertThat(record.first()).as("first values of %s", identity).isEqualTo(firstSeen.get(identity.cpuIndex()));
            GuestIdentity latest = record.latest().orElseThrow();
            assertThat(latest.vpIndex()).as("VP index re-read by %s", identity).isEqualTo(identity.vpIndex());
            assertThat(latest.x2ApicIdLeafB()).as("x2APIC ID re-read by %s", identity).isEqualTo(identity.apicId());
        }
    }
}

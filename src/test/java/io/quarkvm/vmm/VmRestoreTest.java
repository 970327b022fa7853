package io.quarkvm.vmm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.MsrEntry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A running probe VM, one of its vCPUs hot-plugged, is snapshotted, stopped, carried through the binary encoding and
 * restored on another hypervisor handle (as another node would), twice in a row: the probe carries on where it was,
 * on the identities it first saw, without ever booting again; registers it never touches (XMM7, LSTAR) arrive as
 * they were set on the first VM.
 */
class VmRestoreTest {

    private static final Topology THREE = new Topology(1, 1, 3, 1);
    private static final List<VcpuIdentity> IDENTITIES =
            VirtualMachineIdentityTest.boot(THREE, VpIndexPolicy.SLOT_INDEX, 3);
    private static final VmSpec SPEC = VmSpec.probe(8, THREE, IDENTITIES.subList(0, 2), true,
            VpIndexProvider.USERSPACE_MSR).withKnownVcpus(IDENTITIES, VpIndexPolicy.SLOT_INDEX);
    /** Enough turns for a few re-checks of the identity (one every {@link GuestProbe#RECHECK_INTERVAL}). */
    private static final long BEATS = 3L * GuestProbe.RECHECK_INTERVAL;
    private static final long WAIT_SECONDS = 20;

    @Test
    void aRestoredVmCarriesOnWhereItsSnapshotWasTwiceInARow() throws Exception {
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open();
             Hypervisor nodeC = TestHypervisors.open()) {
            ProbeReports reportsA = new ProbeReports(IDENTITIES.size());
            VirtualMachine vmA = VirtualMachine.start(nodeA, SPEC, reportsA);
            Map<Integer, GuestIdentity> firstSeen;
            byte[] streamAB;
            Map<Integer, Long> beatsAB;
            try {
                vmA.hotplug(IDENTITIES.get(2));
                reportsA.awaitAllReported();
                awaitBeats(vmA, Map.of(0, BEATS, 1, BEATS, 2, BEATS));
                firstSeen = firstSeen(vmA);
                assertIdentitiesHold(vmA);
                markFpuAndMsr(vmA);

                long started = System.nanoTime();
                VmSnapshot snapshot = VmSnapshot.capture(vmA);
                long captureMicros = (System.nanoTime() - started) / 1000;
                beatsAB = beats(vmA);
                streamAB = VmSnapshotEncodingTest.encode(snapshot);
                assertThat(snapshot.vcpus()).extracting(VcpuState::identity).containsExactlyElementsOf(IDENTITIES);
                Thread.sleep(50);
                assertThat(beats(vmA)).as("the snapshot leaves the VM paused").isEqualTo(beatsAB);
                System.out.printf("VmRestoreTest: capture of %d vCPUs and %d MiB took %d µs; stream %d bytes "
                                + "(%d of memory in %d ranges, zero pages skipped) for %d bytes of RAM%n",
                        snapshot.vcpus().size(), snapshot.memoryBytes() >> 20, captureMicros, streamAB.length,
                        snapshot.memoryBytesCarried(), snapshot.memory().size(), snapshot.memoryBytes());
            } finally {
                vmA.stop();
            }

            ProbeReports reportsB = new ProbeReports(0);
            VirtualMachine vmB = restoreTimed(nodeB, streamAB, reportsB);
            byte[] streamBC;
            Map<Integer, Long> beatsBC;
            try {
                assertCarriesOn(vmB, reportsB, beatsAB, firstSeen);
                VmSnapshot snapshot = VmSnapshot.capture(vmB);
                beatsBC = beats(vmB);
                streamBC = VmSnapshotEncodingTest.encode(snapshot);
            } finally {
                vmB.stop();
            }

            ProbeReports reportsC = new ProbeReports(0);
            try (VirtualMachine vmC = restoreTimed(nodeC, streamBC, reportsC)) {
                assertCarriesOn(vmC, reportsC, beatsBC, firstSeen);
                assertFpuAndMsrMarked(vmC);
            }
        }
    }

    @Test
    void aSnapshotWhoseVcpuIdentityIsNotThePersistedOneIsRefusedBeforeAnythingRuns() throws Exception {
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open()) {
            VmSnapshot snapshot;
            ProbeReports reportsA = new ProbeReports(2);
            try (VirtualMachine vmA = VirtualMachine.start(nodeA, SPEC, reportsA)) {
                reportsA.awaitAllReported();
                snapshot = VmSnapshot.capture(vmA);
            }
            List<VcpuState> altered = new ArrayList<>(snapshot.vcpus());
            VcpuState first = altered.get(0);
            VcpuIdentity wrong = new VcpuIdentity(first.identity().slot(), first.identity().cpuIndex(),
                    first.identity().apicId(), first.identity().vpIndex() + 7);
            altered.set(0, new VcpuState(wrong, first.regs(), first.sregs(), first.fpu(), first.msrs(),
                    first.mpState()));
            VmSnapshot forged = new VmSnapshot(snapshot.memoryBytes(), snapshot.memory(), altered);

            ProbeReports reportsB = new ProbeReports(0);
            assertThatThrownBy(() -> VirtualMachine.restore(nodeB, SPEC, forged, reportsB))
                    .isInstanceOf(IdentityMismatchException.class)
                    .hasMessageContaining("differs from its persisted identity");
            assertThatThrownBy(() -> VirtualMachine.restore(nodeB, SPEC.withPlugged(IDENTITIES.subList(0, 2)),
                    new VmSnapshot(16L << 20, snapshot.memory(), snapshot.vcpus()), reportsB))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bytes of memory");
            assertThat(reportsB.crashes).isEmpty();
        }
    }

    /** LSTAR: a 64-bit kernel's SYSCALL entry, which the probe never touches, so it must arrive as set. */
    private static final int MSR_LSTAR = 0xC0000082;

    /** Gives each vCPU an XMM7 and LSTAR of its own, which the probe never touches: they must travel unchanged. */
    private static void markFpuAndMsr(VirtualMachine vm) {
        for (VcpuIdentity identity : IDENTITIES) {
            VmSnapshot.await(vm.onVcpuThread(identity.apicId(), vcpu -> {
                KvmFpu fpu = vcpu.getFpu();
                Arrays.fill(fpu.xmm, 7 * KvmFpu.REGISTER_BYTES, 8 * KvmFpu.REGISTER_BYTES, mark(identity));
                vcpu.setFpu(fpu);
                return vcpu.setMsrs(List.of(new MsrEntry(MSR_LSTAR, lstarOf(identity))));
            }), "mark a vCPU");
        }
    }

    private static void assertFpuAndMsrMarked(VirtualMachine vm) {
        for (VcpuIdentity identity : IDENTITIES) {
            KvmFpu fpu = VmSnapshot.await(vm.onVcpuThread(identity.apicId(), HypervisorVcpu::getFpu), "read FPU");
            byte[] expected = new byte[KvmFpu.REGISTER_BYTES];
            Arrays.fill(expected, mark(identity));
            assertThat(Arrays.copyOfRange(fpu.xmm, 7 * KvmFpu.REGISTER_BYTES, 8 * KvmFpu.REGISTER_BYTES))
                    .as("XMM7 of %s after two migrations", identity).isEqualTo(expected);
            List<MsrEntry> lstar = VmSnapshot.await(vm.onVcpuThread(identity.apicId(),
                    vcpu -> vcpu.getMsrs(MSR_LSTAR)), "read LSTAR");
            assertThat(lstar).as("LSTAR of %s", identity).containsExactly(new MsrEntry(MSR_LSTAR, lstarOf(identity)));
        }
    }

    private static byte mark(VcpuIdentity identity) {
        return (byte) (0x5A + identity.cpuIndex());
    }

    private static long lstarOf(VcpuIdentity identity) {
        return 0xFFFF_FFFF_8100_0000L + identity.cpuIndex() * 0x1000L;
    }

    private static VirtualMachine restoreTimed(Hypervisor node, byte[] stream, ProbeReports reports)
            throws IOException {
        long started = System.nanoTime();
        VmSnapshot snapshot = VmSnapshot.read(new ByteArrayInputStream(stream));
        long decoded = System.nanoTime();
        VirtualMachine vm = VirtualMachine.restore(node, SPEC, snapshot, reports);
        long restored = System.nanoTime();
        System.out.printf("VmRestoreTest: decoding %d bytes took %d µs, restore into a new VM %d µs%n",
                stream.length, (decoded - started) / 1000, (restored - decoded) / 1000);
        return vm;
    }

    /**
     * Right after the restore each heartbeat is where the snapshot left it (not back at zero), then grows by
     * several re-checks, which read the identity again on the new VM and find the values first seen on the old one.
     */
    private static void assertCarriesOn(VirtualMachine vm, ProbeReports reports, Map<Integer, Long> atSnapshot,
                                        Map<Integer, GuestIdentity> firstSeen) throws InterruptedException {
        assertThat(vm.pluggedVcpus()).containsExactlyElementsOf(IDENTITIES);
        Map<Integer, Long> target = new HashMap<>();
        for (VcpuIdentity identity : IDENTITIES) {
            int cpuIndex = identity.cpuIndex();
            assertThat(vm.heartbeats(cpuIndex)).as("heartbeat of cpu_index %d right after the restore", cpuIndex)
                    .isGreaterThanOrEqualTo(atSnapshot.get(cpuIndex));
            target.put(cpuIndex, atSnapshot.get(cpuIndex) + BEATS);
        }
        awaitBeats(vm, target);
        assertThat(firstSeen(vm)).as("the first-seen values, carried in guest memory").isEqualTo(firstSeen);
        assertIdentitiesHold(vm);
        assertThat(reports.identities).as("the probe did not boot again: no first report").isEmpty();
        assertThat(reports.violations).isEmpty();
        assertThat(reports.crashes).isEmpty();
        assertThat(vm.state()).isEqualTo(VirtualMachine.State.RUNNING);
    }

    /** The probe's own counters: no violation, and its latest re-check read the persisted identity. */
    private static void assertIdentitiesHold(VirtualMachine vm) {
        for (VcpuIdentity identity : IDENTITIES) {
            ProbeRecord record = vm.probeRecord(identity.cpuIndex());
            assertThat(record.violations()).as("violations of %s", identity).isZero();
            GuestIdentity latest = record.latest().orElseThrow();
            assertThat(latest.vpIndex()).as("VP index re-read by %s", identity).isEqualTo(identity.vpIndex());
            assertThat(latest.x2ApicIdLeafB()).as("x2APIC ID re-read by %s", identity).isEqualTo(identity.apicId());
        }
    }

    private static Map<Integer, GuestIdentity> firstSeen(VirtualMachine vm) {
        Map<Integer, GuestIdentity> first = new HashMap<>();
        IDENTITIES.forEach(identity -> first.put(identity.cpuIndex(), vm.probeRecord(identity.cpuIndex()).first()));
        return first;
    }

    private static Map<Integer, Long> beats(VirtualMachine vm) {
        Map<Integer, Long> beats = new HashMap<>();
        IDENTITIES.forEach(identity -> beats.put(identity.cpuIndex(), vm.heartbeats(identity.cpuIndex())));
        return beats;
    }

    private static void awaitBeats(VirtualMachine vm, Map<Integer, Long> atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        for (Map.Entry<Integer, Long> wanted : atLeast.entrySet()) {
            while (vm.heartbeats(wanted.getKey()) < wanted.getValue()) {
                assertThat(System.nanoTime()).as("heartbeat of cpu_index %d reaches %d (at %d)", wanted.getKey(),
                        wanted.getValue(), vm.heartbeats(wanted.getKey())).isLessThan(deadline);
                Thread.sleep(5);
            }
        }
    }
}

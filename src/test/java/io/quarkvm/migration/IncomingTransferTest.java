package io.quarkvm.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.vmm.Heartbeats;
import io.quarkvm.vmm.IdentityMismatchException;
import io.quarkvm.vmm.ProbeReports;
import io.quarkvm.vmm.SnapshotFormatException;
import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmSpec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A stream from a real probe VM, damaged in every way a network or a bug could damage it: the target refuses it with
 * a reason, its VM never runs (the probe never reports from it) and is released.
 */
class IncomingTransferTest {

    private static final Topology TWO = new Topology(1, 1, 2, 1);
    private static final List<VcpuIdentity> IDENTITIES = List.of(
            VcpuIdentity.assign(TWO, VpIndexPolicy.SLOT_INDEX, TWO.slotAt(0), 0),
            VcpuIdentity.assign(TWO, VpIndexPolicy.SLOT_INDEX, TWO.slotAt(1), 1));
    private static final VmSpec SPEC = VmSpec.probe(8, TWO, IDENTITIES, true, VpIndexProvider.USERSPACE_MSR);
    private static final OutgoingTransfer.Settings SETTINGS =
            new OutgoingTransfer.Settings(Duration.ofMillis(50), 30);
    private static final Map<Byte, String> SECTIONS = Map.of(MigrationStream.HEADER, "header", MigrationStream.PAGES,
            "pages", MigrationStream.ROUND_END, "round end", MigrationStream.VCPU, "vCPU", MigrationStream.END, "end");

    private static byte[] stream;

    @BeforeAll
    static void recordAStream() throws Exception {
        try (Hypervisor node = TestHypervisors.open();
             VirtualMachine vm = VirtualMachine.start(node, SPEC, new ProbeReports(0))) {
            Heartbeats.awaitAtLeast(vm, 2);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            new OutgoingTransfer(vm, UUID.randomUUID(), Loopback.VM_ID, SETTINGS, round -> { }, (lastRound, converged) -> true).run(out, new StepTimes());
            stream = out.toByteArray();
        }
    }

    @Test
    void theRecordedStreamIsReceivedWhole() throws Exception {
        ProbeReports reports = new ProbeReports(0);
        try (Hypervisor node = TestHypervisors.open();
             VirtualMachine vm = IncomingTransfer.receive(new ByteArrayInputStream(stream), header -> SPEC, node,
                     reports, new StepTimes())) {
            assertThat(vm.state()).isEqualTo(VirtualMachine.State.PAUSED);
            long beats = Heartbeats.slowest(vm);
            vm.resume();
            Heartbeats.awaitAtLeast(vm, beats + 2);
            assertThat(reports.identities).isEmpty();
        }
    }

    @Test
    void aCorruptSectionOfEachTypeIsRefusedAndTheVmBuiltForItReleasedUnrun() throws Exception {
        List<Integer> offsets = MigrationStreamTest.sectionOffsets(stream);
        try (Hypervisor node = TestHypervisors.open()) {
            for (Map.Entry<Byte, String> type : SECTIONS.entrySet()) {
                int section = offsets.stream().filter(at -> stream[at] == type.getKey()).findFirst().orElseThrow();
                int length = ByteBuffer.wrap(stream).getInt(section + 1);
                byte[] bad = stream.clone();
                bad[section + 5 + length / 2 + (length == 0 ? 1 : 0)] ^= 0x40; // the payload's middle; END's CRC
                assertRefused(node, bad, type.getKey() != MigrationStream.HEADER,
                        "migration stream corrupt: CRC32C mismatch in the " + type.getValue() + " section");
            }
        }
    }

    @Test
    void aTruncatedStreamIsRefusedWhereverItEnds() throws Exception {
        List<Integer> offsets = MigrationStreamTest.sectionOffsets(stream);
        int firstPages = offsets.get(1);
        int lastVcpu = offsets.get(offsets.size() - 2);
        int end = offsets.get(offsets.size() - 1);
        List<int[]> cuts = List.of(new int[] {5, 0}, new int[] {20, 0}, new int[] {firstPages, 1},
                new int[] {firstPages + 2000, 1}, new int[] {lastVcpu - 9, 1}, new int[] {lastVcpu + 100, 1},
                new int[] {end, 1}, new int[] {stream.length - 1, 1});
        try (Hypervisor node = TestHypervisors.open()) {
            for (int[] cut : cuts) {
                assertRefused(node, Arrays.copyOf(stream, cut[0]), cut[1] == 1,
                        "migration stream truncated: it ended before");
            }
        }
    }

    @Test
    void anotherMagicOrVersionIsRefusedBeforeAnythingIsBuilt() throws Exception {
        byte[] newer = stream.clone();
        ByteBuffer.wrap(newer).putInt(8, 2);
        byte[] other = stream.clone();
        System.arraycopy("QVMSNAP1".getBytes(StandardCharsets.US_ASCII), 0, other, 0, 8);
        try (Hypervisor node = TestHypervisors.open()) {
            assertRefused(node, newer, false,
                    "migration stream format version 2 is not supported: this node reads version 1");
            assertRefused(node, other, false, "not a quarkvm migration stream");
        }
    }

    @Test
    void aResolverThatRefusesOrPlugsOtherVcpusStopsItBeforeAVmExists() throws Exception {
        ProbeReports reports = new ProbeReports(0);
        try (Hypervisor node = TestHypervisors.open()) {
            assertThatThrownBy(() -> IncomingTransfer.receive(new ByteArrayInputStream(stream), header -> {
                throw new IllegalStateException("VM " + header.vmId() + " is not migrating here");
            }, node, reports, new StepTimes())).isInstanceOf(IllegalStateException.class).hasMessageContaining("not migrating here");
            VmSpec onePlugged = VmSpec.probe(8, TWO, IDENTITIES.subList(0, 1), true, VpIndexProvider.USERSPACE_MSR)
                    .withKnownVcpus(IDENTITIES, VpIndexPolicy.SLOT_INDEX);
            assertThatThrownBy(() -> IncomingTransfer.receive(new ByteArrayInputStream(stream), header -> onePlugged,
                    node, reports, new StepTimes())).isInstanceOf(IdentityMismatchException.class);
            VmSpec bigger = VmSpec.probe(16, TWO, IDENTITIES, true, VpIndexProvider.USERSPACE_MSR);
            assertThatThrownBy(() -> IncomingTransfer.receive(new ByteArrayInputStream(stream), header -> bigger,
                    node, reports, new StepTimes())).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("bytes of memory");
            assertThat(reports.hasStopped()).as("no VM was built").isFalse();
        }
    }

    /**
     * The target refuses {@code bad} with {@code message}; if it got as far as building the VM ({@code built}), that
     * VM released everything (its listener heard so) and the probe in it never ran (never reported).
     */
    private static void assertRefused(Hypervisor node, byte[] bad, boolean built, String message) throws Exception {
        ProbeReports reports = new ProbeReports(0);
        List<MigrationStream.Header> resolved = new ArrayList<>();
        assertThatThrownBy(() -> IncomingTransfer.receive(new ByteArrayInputStream(bad), header -> {
            resolved.add(header);
            return SPEC;
        }, node, reports, new StepTimes())).isInstanceOf(SnapshotFormatException.class).hasMessageStartingWith(message);
        assertThat(resolved).as("the header was read (%s)", message).hasSize(built ? 1 : 0);
        if (built) {
            assertThat(reports.awaitStopped(60)).as("the VM built for %s released", message).isTrue();
        } else {
            assertThat(reports.hasStopped()).isFalse();
        }
        assertThat(reports.identities).as("the VM built for %s never ran", message).isEmpty();
        assertThat(reports.crashes).isEmpty();
    }
}

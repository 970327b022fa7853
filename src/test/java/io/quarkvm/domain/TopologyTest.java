package io.quarkvm.domain;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TopologyTest {

    @ParameterizedTest
    @CsvSource({"1,0", "2,1", "3,2", "4,2", "5,3", "7,3", "8,3", "9,4", "16,4", "17,5", "1024,10"})
    void fieldWidthIsCeilLog2(int count, int width) {
        assertThat(Topology.fieldWidth(count)).isEqualTo(width);
    }

    @Test
    void twoSocketsThreeCoresTwoThreadsLeaveAHoleAtSixAndSeven() {
        Topology topology = new Topology(2, 1, 3, 2);
        List<Integer> apicIds = topology.slots().stream().map(topology::apicIdOf).toList();
        assertThat(apicIds).containsExactly(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13);
        assertThat(topology.hasDenseApicIds()).isFalse();
    }

    @Test
    void diesTakeTheirOwnFieldBetweenCoreAndSocket() {
        Topology topology = new Topology(2, 3, 2, 1);
        assertThat(topology.smtShift()).isZero();
        assertThat(topology.coreShift()).isEqualTo(1);
        assertThat(topology.packageShift()).isEqualTo(3);
        assertThat(topology.apicIdOf(new Slot(1, 2, 1, 0))).isEqualTo(0b1_10_1);
        assertThat(topology.slots().stream().map(topology::apicIdOf).toList())
                .containsExactly(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13);
    }

    @Test
    void slotIndexRunsThreadFastestSocketSlowest() {
        Topology topology = new Topology(2, 2, 3, 2);
        assertThat(topology.slotAt(0)).isEqualTo(new Slot(0, 0, 0, 0));
        assertThat(topology.slotAt(1)).isEqualTo(new Slot(0, 0, 0, 1));
        assertThat(topology.slotAt(2)).isEqualTo(new Slot(0, 0, 1, 0));
        assertThat(topology.slotAt(6)).isEqualTo(new Slot(0, 1, 0, 0));
        assertThat(topology.slotAt(12)).isEqualTo(new Slot(1, 0, 0, 0));
        assertThat(topology.slotAt(23)).isEqualTo(new Slot(1, 1, 2, 1));
    }

    /** Every topology with each count 1..5: the APIC ID rule against its definition, both directions. */
    @Test
    void apicIdsAndSlotIndexesAreBijectiveForEveryTopologyUpToFivePerLevel() {
        for (int sockets = 1; sockets <= 5; sockets++) {
            for (int dies = 1; dies <= 5; dies++) {
                for (int cores = 1; cores <= 5; cores++) {
                    for (int threads = 1; threads <= 5; threads++) {
                        checkTopology(new Topology(sockets, dies, cores, threads));
                    }
                }
            }
        }
    }

    private static void checkTopology(Topology topology) {
        int smtBits = bitsFor(topology.threads());
        int coreBits = bitsFor(topology.cores());
        int dieBits = bitsFor(topology.dies());
        Set<Integer> apicIds = new HashSet<>();
        for (int index = 0; index < topology.maxVcpus(); index++) {
            Slot slot = topology.slotAt(index);
            assertThat(topology.contains(slot)).isTrue();
            assertThat(topology.slotIndexOf(slot)).isEqualTo(index);
            int expected = (((slot.socket() << dieBits | slot.die()) << coreBits | slot.core()) << smtBits) | slot.thread();
            int apicId = topology.apicIdOf(slot);
            assertThat(apicId).as("%s %s", topology, slot).isEqualTo(expected);
            assertThat(topology.slotOfApicId(apicId)).contains(slot);
            assertThat(apicIds.add(apicId)).isTrue();
        }
        boolean dense = apicIds.stream().mapToInt(Integer::intValue).max().orElseThrow() == topology.maxVcpus() - 1;
        assertThat(topology.hasDenseApicIds()).as("%s", topology).isEqualTo(dense);
        int span = topology.sockets() << topology.packageShift();
        IntStream.range(0, span).filter(id -> !apicIds.contains(id))
                .forEach(hole -> assertThat(topology.slotOfApicId(hole)).as("hole %d in %s", hole, topology).isEmpty());
    }

    /** ceil(log2(n)) written the slow way, independently of the code under test. */
    private static int bitsFor(int count) {
        int bits = 0;
        while ((1 << bits) < count) {
            bits++;
        }
        return bits;
    }

    @Test
    void largestTopologyHasTheLimitOfVcpus() {
        Topology topology = new Topology(4, 2, 32, 4);
        assertThat(topology.maxVcpus()).isEqualTo(Topology.MAX_VCPUS);
        assertThat(topology.apicIdOf(topology.slotAt(1023))).isEqualTo(1023);
    }

    @ParameterizedTest
    @CsvSource({"0,1,1,1,topology.sockets", "1,0,1,1,topology.dies", "1,1,-1,1,topology.cores",
            "1,1,1,1025,topology.threads", "2,2,16,32,topology"})
    void rejectsCountsOutOfRangeNamingTheField(int sockets, int dies, int cores, int threads, String field) {
        assertThatThrownBy(() -> new Topology(sockets, dies, cores, threads))
                .isInstanceOfSatisfying(InvalidSpecificationException.class, e -> assertThat(e.field()).isEqualTo(field));
    }

    @Test
    void slotsOutsideTheTopologyAreRefused() {
        Topology topology = new Topology(2, 1, 3, 2);
        for (Slot outside : List.of(new Slot(2, 0, 0, 0), new Slot(0, 1, 0, 0), new Slot(0, 0, 3, 0),
                new Slot(0, 0, 0, 2), new Slot(-1, 0, 0, 0))) {
            assertThat(topology.contains(outside)).isFalse();
            assertThatThrownBy(() -> topology.apicIdOf(outside)).isInstanceOf(InvalidSpecificationException.class);
            assertThatThrownBy(() -> topology.slotIndexOf(outside)).isInstanceOf(InvalidSpecificationException.class);
        }
        assertThatThrownBy(() -> topology.slotAt(12)).isInstanceOf(InvalidSpecificationException.class);
        assertThat(topology.slotOfApicId(6)).isEmpty();
        assertThat(topology.slotOfApicId(-1)).isEmpty();
        assertThat(topology.slotOfApicId(16)).isEmpty();
    }
}

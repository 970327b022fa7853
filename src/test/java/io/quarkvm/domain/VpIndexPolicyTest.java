package io.quarkvm.domain;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VpIndexPolicyTest {

    private final Topology topology = new Topology(2, 1, 3, 2);
    private final Slot lastSlot = new Slot(1, 0, 2, 1);

    @Test
    void eachPolicyPicksItsNumber() {
        assertThat(VpIndexPolicy.CPU_INDEX.vpIndexOf(topology, lastSlot, 4)).isEqualTo(4);
        assertThat(VpIndexPolicy.APIC_ID.vpIndexOf(topology, lastSlot, 4)).isEqualTo(13);
        assertThat(VpIndexPolicy.SLOT_INDEX.vpIndexOf(topology, lastSlot, 4)).isEqualTo(11);
    }

    @Test
    void onlyCreationOrderDependsOnCreationOrder() {
        for (Slot slot : topology.slots()) {
            assertThat(VpIndexPolicy.APIC_ID.vpIndexOf(topology, slot, 0)).isEqualTo(VpIndexPolicy.APIC_ID.vpIndexOf(topology, slot, 99));
            assertThat(VpIndexPolicy.SLOT_INDEX.vpIndexOf(topology, slot, 0)).isEqualTo(VpIndexPolicy.SLOT_INDEX.vpIndexOf(topology, slot, 99));
            assertThat(VpIndexPolicy.CPU_INDEX.vpIndexOf(topology, slot, 7)).isEqualTo(7);
        }
    }

    /** The inverse, for slots never plugged: what a creation-order kernel needs to create parked vCPUs. */
    @Test
    void policiesIndependentOfCreationOrderNameTheSlotOfEachVpIndex() {
        for (Slot slot : topology.slots()) {
            for (VpIndexPolicy policy : new VpIndexPolicy[] {VpIndexPolicy.APIC_ID, VpIndexPolicy.SLOT_INDEX}) {
                assertThat(policy.slotWithVpIndex(topology, policy.vpIndexOf(topology, slot, 0))).contains(slot);
            }
            assertThat(VpIndexPolicy.CPU_INDEX.slotWithVpIndex(topology, 0)).isEmpty();
        }
        assertThat(VpIndexPolicy.APIC_ID.slotWithVpIndex(topology, 6)).as("a hole").isEmpty();
        assertThat(VpIndexPolicy.SLOT_INDEX.slotWithVpIndex(topology, 12)).isEmpty();
        assertThat(VpIndexPolicy.SLOT_INDEX.slotWithVpIndex(topology, -1)).isEmpty();
    }

    @Test
    void largestVpIndexIsDenseExceptForSparseApicIds() {
        assertThat(VpIndexPolicy.CPU_INDEX.largestVpIndex(topology)).isEqualTo(11);
        assertThat(VpIndexPolicy.SLOT_INDEX.largestVpIndex(topology)).isEqualTo(11);
        assertThat(VpIndexPolicy.APIC_ID.largestVpIndex(topology)).isEqualTo(13);
    }

    @Test
    void slotIndexIsDenseWhereApicIdIsNot() {
        assertThat(topology.slots().stream().mapToInt(s -> VpIndexPolicy.SLOT_INDEX.vpIndexOf(topology, s, 0)).max())
                .hasValue(topology.maxVcpus() - 1);
        assertThat(topology.slots().stream().mapToInt(s -> VpIndexPolicy.APIC_ID.vpIndexOf(topology, s, 0)).max())
                .hasValue(13);
    }

    @Test
    void aSlotOutsideTheTopologyHasNoVpIndex() {
        assertThatThrownBy(() -> VpIndexPolicy.SLOT_INDEX.vpIndexOf(topology, new Slot(2, 0, 0, 0), 0))
                .isInstanceOf(InvalidSpecificationException.class);
    }
}

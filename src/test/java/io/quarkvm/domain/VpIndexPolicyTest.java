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
        assertThat(VpIndexPolicy.CPU_INDEX.survivesOutOfOrderCreation()).isFalse();
        assertThat(VpIndexPolicy.APIC_ID.survivesOutOfOrderCreation()).isTrue();
        assertThat(VpIndexPolicy.SLOT_INDEX.survivesOutOfOrderCreation()).isTrue();
        for (Slot slot : topology.slots()) {
            for (VpIndexPolicy policy : VpIndexPolicy.values()) {
                if (policy.survivesOutOfOrderCreation()) {
                    assertThat(policy.vpIndexOf(topology, slot, 0)).isEqualTo(policy.vpIndexOf(topology, slot, 99));
                }
            }
        }
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

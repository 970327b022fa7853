package io.quarkvm.domain;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VcpuPlugRulesTest {

    private final Topology topology = new Topology(2, 1, 3, 2);

    @Test
    void bootVcpusTakeTheFirstSlotsInTopologyOrder() {
        List<VcpuIdentity> boot = VcpuPlugRules.bootIdentities(topology, VpIndexPolicy.APIC_ID, 8);
        assertThat(boot).extracting(VcpuIdentity::cpuIndex).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
        assertThat(boot).extracting(VcpuIdentity::apicId).containsExactly(0, 1, 2, 3, 4, 5, 8, 9);
        assertThat(boot).extracting(VcpuIdentity::vpIndex).containsExactly(0, 1, 2, 3, 4, 5, 8, 9);
    }

    @Test
    void aNewSlotTakesTheNextCpuIndexWhateverItsPosition() {
        List<PluggedVcpu> known = plugged(VcpuPlugRules.bootIdentities(topology, VpIndexPolicy.CPU_INDEX, 2));
        VcpuIdentity last = VcpuPlugRules.identityToPlug(topology, VpIndexPolicy.CPU_INDEX, known, new Slot(1, 0, 2, 1));
        assertThat(last).isEqualTo(new VcpuIdentity(new Slot(1, 0, 2, 1), 2, 13, 2));
    }

    @Test
    void aReplugGetsItsOldIdentityBackAndItsCpuIndexIsNeverReused() {
        List<PluggedVcpu> known = new ArrayList<>(plugged(VcpuPlugRules.bootIdentities(topology, VpIndexPolicy.SLOT_INDEX, 3)));
        PluggedVcpu third = VcpuPlugRules.vcpuToUnplug(known, 2).orElseThrow();
        known.set(2, third.withPlugged(false));

        VcpuIdentity other = VcpuPlugRules.identityToPlug(topology, VpIndexPolicy.SLOT_INDEX, known, new Slot(0, 0, 2, 0));
        assertThat(other.cpuIndex()).isEqualTo(3);
        assertThat(VcpuPlugRules.identityToPlug(topology, VpIndexPolicy.SLOT_INDEX, known, third.identity().slot()))
                .isEqualTo(third.identity());
    }

    @Test
    void anOccupiedSlotIsAConflictAndAnOutsideSlotIsInvalid() {
        List<PluggedVcpu> known = plugged(VcpuPlugRules.bootIdentities(topology, VpIndexPolicy.SLOT_INDEX, 3));
        assertThatThrownBy(() -> VcpuPlugRules.identityToPlug(topology, VpIndexPolicy.SLOT_INDEX, known, new Slot(0, 0, 0, 1)))
                .isInstanceOf(ConflictException.class).hasMessageContaining("already plugged");
        assertThatThrownBy(() -> VcpuPlugRules.identityToPlug(topology, VpIndexPolicy.SLOT_INDEX, known, new Slot(0, 0, 3, 0)))
                .isInstanceOf(InvalidSpecificationException.class);
    }

    @Test
    void theBootVcpuStaysAndUnknownApicIdsAreEmpty() {
        List<PluggedVcpu> known = plugged(VcpuPlugRules.bootIdentities(topology, VpIndexPolicy.SLOT_INDEX, 3));
        assertThatThrownBy(() -> VcpuPlugRules.vcpuToUnplug(known, 0)).isInstanceOf(ConflictException.class);
        assertThat(VcpuPlugRules.vcpuToUnplug(known, 8)).isEmpty();
        assertThat(VcpuPlugRules.vcpuToUnplug(known, 1)).isPresent();
    }

    /** Random plug/unplug orders: identities never change, never collide, and follow each policy's rule. */
    @Test
    void anyPlugOrderKeepsEveryIdentityStableAndUnique() {
        Random random = new Random(42);
        for (VpIndexPolicy policy : VpIndexPolicy.values()) {
            for (int round = 0; round < 200; round++) {
                List<PluggedVcpu> known = new ArrayList<>(plugged(VcpuPlugRules.bootIdentities(topology, policy, 1)));
                List<Slot> order = new ArrayList<>(topology.slots());
                Collections.shuffle(order, random);
                for (Slot slot : order) {
                    if (random.nextBoolean()) {
                        plugOrReplug(policy, known, slot);
                    }
                    if (random.nextInt(4) == 0 && known.size() > 1) {
                        int victim = 1 + random.nextInt(known.size() - 1);
                        known.set(victim, known.get(victim).withPlugged(false));
                    }
                }
                for (Slot slot : order) {
                    plugOrReplug(policy, known, slot);
                }
                assertThat(known).extracting(v -> v.identity().cpuIndex()).doesNotHaveDuplicates();
                assertThat(known).extracting(v -> v.identity().vpIndex()).doesNotHaveDuplicates();
                assertThat(known).extracting(v -> v.identity().apicId()).doesNotHaveDuplicates();
                for (PluggedVcpu vcpu : known) {
                    VcpuIdentity id = vcpu.identity();
                    assertThat(id.apicId()).isEqualTo(topology.apicIdOf(id.slot()));
                    assertThat(id.vpIndex()).isEqualTo(policy.vpIndexOf(topology, id.slot(), id.cpuIndex()));
                }
            }
        }
    }

    private void plugOrReplug(VpIndexPolicy policy, List<PluggedVcpu> known, Slot slot) {
        boolean pluggedNow = known.stream().anyMatch(v -> v.plugged() && v.identity().slot().equals(slot));
        if (pluggedNow) {
            return;
        }
        VcpuIdentity identity = VcpuPlugRules.identityToPlug(topology, policy, known, slot);
        for (int i = 0; i < known.size(); i++) {
            if (known.get(i).identity().slot().equals(slot)) {
                assertThat(known.get(i).identity()).isEqualTo(identity);
                known.set(i, known.get(i).withPlugged(true));
                return;
            }
        }
        known.add(new PluggedVcpu(identity, true));
    }

    private static List<PluggedVcpu> plugged(List<VcpuIdentity> identities) {
        return identities.stream().map(id -> new PluggedVcpu(id, true)).toList();
    }
}

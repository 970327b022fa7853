package io.quarkvm.domain;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VpIndexProvidersTest {

    /** This machine's PVM KVM (ARCHITECTURE.md "The KVM on these machines"). */
    static final NodeCapabilities PVM = new NodeCapabilities(12, 2, 1024, 4096, false, false, true, true);
    static final NodeCapabilities SETTABLE = new NodeCapabilities(12, 8, 288, 4096, true, true, false, false);
    static final NodeCapabilities SETTABLE_AND_USERSPACE = new NodeCapabilities(12, 8, 1024, 4096, true, true, true, true);
    static final NodeCapabilities IMPLICIT = new NodeCapabilities(12, 8, 1024, 4096, true, false, false, false);
    static final NodeCapabilities FILTER_WITHOUT_USERSPACE_MSR = new NodeCapabilities(12, 8, 1024, 4096, false, false, false, true);

    private final Topology sparse = new Topology(2, 1, 3, 2);
    private final Topology dense = new Topology(3, 1, 4, 2);

    @Test
    void eachNodeGetsTheStrongestProviderItsKernelBacks() {
        assertThat(VpIndexProviders.forNode(SETTABLE_AND_USERSPACE, Optional.empty())).isEqualTo(VpIndexProvider.KERNEL_SETTABLE);
        assertThat(VpIndexProviders.forNode(SETTABLE, Optional.empty())).isEqualTo(VpIndexProvider.KERNEL_SETTABLE);
        assertThat(VpIndexProviders.forNode(PVM, Optional.empty())).isEqualTo(VpIndexProvider.USERSPACE_MSR);
        assertThat(VpIndexProviders.forNode(IMPLICIT, Optional.empty())).isEqualTo(VpIndexProvider.KERNEL_IMPLICIT);
        assertThat(VpIndexProviders.forNode(FILTER_WITHOUT_USERSPACE_MSR, Optional.empty())).isEqualTo(VpIndexProvider.UNSUPPORTED);
        assertThat(VpIndexProviders.forNode(NodeCapabilities.NONE, Optional.empty())).isEqualTo(VpIndexProvider.UNSUPPORTED);
    }

    @Test
    void aForcedProviderMustBeOneTheKernelBacks() {
        assertThat(VpIndexProviders.forNode(SETTABLE_AND_USERSPACE, Optional.of(VpIndexProvider.USERSPACE_MSR)))
                .isEqualTo(VpIndexProvider.USERSPACE_MSR);
        assertThat(VpIndexProviders.forNode(PVM, Optional.of(VpIndexProvider.UNSUPPORTED))).isEqualTo(VpIndexProvider.UNSUPPORTED);
        assertThatThrownBy(() -> VpIndexProviders.forNode(PVM, Optional.of(VpIndexProvider.KERNEL_IMPLICIT)))
                .isInstanceOf(InvalidSpecificationException.class).hasMessageContaining("KVM_CAP_HYPERV");
    }

    @Test
    void userspaceMsrHonoursEveryPolicyAndTopology() {
        for (VpIndexPolicy policy : VpIndexPolicy.values()) {
            for (Topology topology : new Topology[] {sparse, dense, new Topology(1, 1, 1, 1), new Topology(4, 2, 32, 4)}) {
                assertThat(place(PVM, VpIndexProvider.USERSPACE_MSR, policy, topology))
                        .isEqualTo(new PlacementDecision.Accepted(VpIndexProvider.USERSPACE_MSR));
            }
        }
    }

    @Test
    void implicitRefusesSparseApicIdsOnly() {
        assertThat(place(IMPLICIT, VpIndexProvider.KERNEL_IMPLICIT, VpIndexPolicy.APIC_ID, sparse))
                .isInstanceOfSatisfying(PlacementDecision.Refused.class,
                        r -> assertThat(r.reason()).contains("sparse", "quarkvm-3.0"));
        assertThat(place(IMPLICIT, VpIndexProvider.KERNEL_IMPLICIT, VpIndexPolicy.APIC_ID, dense))
                .isEqualTo(new PlacementDecision.Accepted(VpIndexProvider.KERNEL_IMPLICIT));
        assertThat(place(IMPLICIT, VpIndexProvider.KERNEL_IMPLICIT, VpIndexPolicy.CPU_INDEX, sparse))
                .isEqualTo(new PlacementDecision.Accepted(VpIndexProvider.KERNEL_IMPLICIT));
        assertThat(place(IMPLICIT, VpIndexProvider.KERNEL_IMPLICIT, VpIndexPolicy.SLOT_INDEX, sparse))
                .isEqualTo(new PlacementDecision.Accepted(VpIndexProvider.KERNEL_IMPLICIT));
    }

    @Test
    void creationOrderCanGiveEveryPolicyButSparseApicIds() {
        for (VpIndexPolicy policy : VpIndexPolicy.values()) {
            assertThat(VpIndexProviders.creationOrderCanGive(policy, dense)).isTrue();
        }
        assertThat(VpIndexProviders.creationOrderCanGive(VpIndexPolicy.APIC_ID, sparse)).isFalse();
        assertThat(VpIndexProviders.creationOrderCanGive(VpIndexPolicy.SLOT_INDEX, sparse)).isTrue();
        assertThat(VpIndexProviders.creationOrderCanGive(VpIndexPolicy.CPU_INDEX, sparse)).isTrue();
    }

    @Test
    void settableRefusesVpIndexesAtOrAboveMaxVcpus() {
        Topology big = new Topology(2, 1, 144, 1);
        Topology sparseBig = new Topology(3, 1, 96, 1);
        assertThat(place(SETTABLE, VpIndexProvider.KERNEL_SETTABLE, VpIndexPolicy.SLOT_INDEX, big))
                .isEqualTo(new PlacementDecision.Accepted(VpIndexProvider.KERNEL_SETTABLE));
        assertThat(place(SETTABLE, VpIndexProvider.KERNEL_SETTABLE, VpIndexPolicy.APIC_ID, sparseBig))
                .isInstanceOfSatisfying(PlacementDecision.Refused.class,
                        r -> assertThat(r.reason()).contains("KVM_CAP_MAX_VCPUS", "351"));
        assertThat(place(SETTABLE, VpIndexProvider.KERNEL_SETTABLE, VpIndexPolicy.SLOT_INDEX, sparseBig))
                .isEqualTo(new PlacementDecision.Accepted(VpIndexProvider.KERNEL_SETTABLE));
        assertThat(place(SETTABLE, VpIndexProvider.KERNEL_SETTABLE, VpIndexPolicy.CPU_INDEX, sparseBig))
                .isEqualTo(new PlacementDecision.Accepted(VpIndexProvider.KERNEL_SETTABLE));
    }

    @Test
    void unsupportedRefusesHypervVmsNamingTheCapabilitiesButRunsOthers() {
        for (VpIndexPolicy policy : VpIndexPolicy.values()) {
            assertThat(place(FILTER_WITHOUT_USERSPACE_MSR, VpIndexProvider.UNSUPPORTED, policy, dense))
                    .isInstanceOfSatisfying(PlacementDecision.Refused.class, r -> assertThat(r.reason())
                            .contains("KVM_CAP_HYPERV_VP_INDEX", "KVM_CAP_X86_USER_SPACE_MSR", "KVM_CAP_HYPERV"));
            assertThat(VpIndexProviders.place(FILTER_WITHOUT_USERSPACE_MSR, VpIndexProvider.UNSUPPORTED, policy, dense, false))
                    .isInstanceOf(PlacementDecision.Accepted.class);
        }
    }

    @Test
    void vmsLargerThanTheKernelAllowsAreRefusedWhateverTheProvider() {
        Topology big = new Topology(2, 1, 256, 1);
        for (VpIndexProvider provider : VpIndexProvider.values()) {
            assertThat(VpIndexProviders.place(SETTABLE, provider, VpIndexPolicy.SLOT_INDEX, big, false))
                    .isInstanceOfSatisfying(PlacementDecision.Refused.class,
                            r -> assertThat(r.reason()).contains("KVM_CAP_MAX_VCPUS is 288"));
        }
        NodeCapabilities smallIdSpace = new NodeCapabilities(12, 8, 1024, 13, false, false, true, true);
        assertThat(VpIndexProviders.place(smallIdSpace, VpIndexProvider.USERSPACE_MSR, VpIndexPolicy.SLOT_INDEX, sparse, true))
                .isInstanceOfSatisfying(PlacementDecision.Refused.class, r -> assertThat(r.reason()).contains("KVM_CAP_MAX_VCPU_ID"));
    }

    private static PlacementDecision place(NodeCapabilities caps, VpIndexProvider provider, VpIndexPolicy policy, Topology topology) {
        return VpIndexProviders.place(caps, provider, policy, topology, true);
    }
}

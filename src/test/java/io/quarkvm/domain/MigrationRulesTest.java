package io.quarkvm.domain;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Optional;
import java.util.UUID;

import static io.quarkvm.domain.VpIndexProvidersTest.IMPLICIT;
import static io.quarkvm.domain.VpIndexProvidersTest.PVM;
import static io.quarkvm.domain.VpIndexProvidersTest.SETTABLE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MigrationRulesTest {

    private static final Topology SPARSE = new Topology(2, 1, 3, 2);
    private static final Topology DENSE = new Topology(2, 1, 4, 2);

    /** A running VM on node "a" (live), SLOT_INDEX policy with hyperv.vpindex, 12 slots, 64 MiB. */
    private static MigrationRules.Vm vm() {
        return vm(VmPhase.RUNNING, DesiredState.RUNNING, VpIndexPolicy.SLOT_INDEX, SPARSE, true);
    }

    private static MigrationRules.Vm vm(VmPhase phase, DesiredState desired, VpIndexPolicy policy, Topology topology,
                                        boolean hypervVpIndex) {
        return new MigrationRules.Vm("vm-1", phase, desired, "a", true, policy, topology, hypervVpIndex, 64);
    }

    /** Live node "b" that runs VMs through USERSPACE_MSR and offers 1024 MiB and 16 vCPUs. */
    private static MigrationRules.Target target() {
        return target(VpIndexProvider.USERSPACE_MSR, PVM);
    }

    private static MigrationRules.Target target(VpIndexProvider provider, NodeCapabilities capabilities) {
        return new MigrationRules.Target("b", true, true, null, Optional.of(provider), provider.name(), capabilities,
                1024, 16);
    }

    private static MigrationRules.Target offering(Integer memoryMiB, Integer maxVcpus) {
        MigrationRules.Target t = target();
        return new MigrationRules.Target(t.name(), t.live(), t.canRunVms(), t.reason(), t.provider(), t.providerName(),
                t.capabilities(), memoryMiB, maxVcpus);
    }

    private static VpIndexProvider check(MigrationRules.Vm vm, MigrationRules.Target target) {
        return MigrationRules.check(vm, Optional.empty(), target.name(), Optional.of(target));
    }

    private static void conflict(ThrowingCallable check, String... detail) {
        assertThatThrownBy(check).isInstanceOf(ConflictException.class).hasMessageContainingAll(detail);
    }

    private static void invalid(ThrowingCallable check, String field, String... detail) {
        assertThatThrownBy(check).isInstanceOfSatisfying(InvalidSpecificationException.class,
                e -> assertThat(e.field()).isEqualTo(field)).hasMessageContainingAll(detail);
    }

    @Test
    void aRunningVmMovesToALiveNodeThroughTheProviderThatNodeUses() {
        assertThat(check(vm(), target())).isEqualTo(VpIndexProvider.USERSPACE_MSR);
        assertThat(check(vm(), target(VpIndexProvider.KERNEL_SETTABLE, SETTABLE))).isEqualTo(VpIndexProvider.KERNEL_SETTABLE);
        assertThat(check(vm(), target(VpIndexProvider.KERNEL_IMPLICIT, IMPLICIT))).isEqualTo(VpIndexProvider.KERNEL_IMPLICIT);
        assertThat(check(vm(VmPhase.RUNNING, DesiredState.RUNNING, VpIndexPolicy.APIC_ID, DENSE, true),
                target(VpIndexProvider.KERNEL_IMPLICIT, IMPLICIT))).isEqualTo(VpIndexProvider.KERNEL_IMPLICIT);
        assertThat(check(vm(VmPhase.RUNNING, DesiredState.RUNNING, VpIndexPolicy.CPU_INDEX, SPARSE, true),
                target(VpIndexProvider.KERNEL_IMPLICIT, IMPLICIT))).isEqualTo(VpIndexProvider.KERNEL_IMPLICIT);
        assertThat(check(vm(VmPhase.RUNNING, DesiredState.RUNNING, VpIndexPolicy.APIC_ID, SPARSE, false),
                target(VpIndexProvider.UNSUPPORTED, PVM))).as("a VM without hyperv.vpindex needs no provider")
                .isEqualTo(VpIndexProvider.UNSUPPORTED);
    }

    @Test
    void aTargetOfferingExactlyWhatTheVmNeedsIsEnough() {
        assertThat(check(vm(), offering(64, 12))).isEqualTo(VpIndexProvider.USERSPACE_MSR);
    }

    @Test
    void theDowntimeLimitIsFiftyMillisecondsUnlessGivenWithinOneMinute() {
        assertThat(MigrationRules.downtimeLimitMs(null)).isEqualTo(50);
        assertThat(MigrationRules.downtimeLimitMs(1L)).isEqualTo(1);
        assertThat(MigrationRules.downtimeLimitMs(60_000L)).isEqualTo(60_000);
        for (long outside : new long[] {0, -1, 60_001, Long.MAX_VALUE, Long.MIN_VALUE}) {
            invalid(() -> MigrationRules.downtimeLimitMs(outside), "downtimeLimitMs", "between 1 and 60000", "" + outside);
        }
    }

    @Test
    void theTargetNodeMustBeNamed() {
        assertThat(MigrationRules.targetNode("b")).isEqualTo("b");
        for (String missing : new String[] {null, "", "  "}) {
            invalid(() -> MigrationRules.targetNode(missing), "targetNode", "targetNode is required");
        }
    }

    @Test
    void aVmAlreadyBeingMigratedIsAConflictNamingThatMigration() {
        UUID other = UUID.randomUUID();
        for (MigrationPhase phase : MigrationPhase.UNFINISHED) {
            conflict(() -> MigrationRules.check(vm(VmPhase.MIGRATING_OUT, DesiredState.RUNNING, VpIndexPolicy.SLOT_INDEX,
                            SPARSE, true), Optional.of(new MigrationRules.Unfinished(other, phase)), "b", Optional.of(target())),
                    "already being migrated", other.toString(), phase.name());
        }
    }

    @Test
    void onlyARunningVmThatShouldRunCanBeMigrated() {
        Arrays.stream(VmPhase.values()).filter(phase -> phase != VmPhase.RUNNING).forEach(phase ->
                conflict(() -> check(vm(phase, DesiredState.RUNNING, VpIndexPolicy.SLOT_INDEX, SPARSE, true), target()),
                        "vm-1 is " + phase, "only a running VM"));
        for (DesiredState desired : new DesiredState[] {DesiredState.PAUSED, DesiredState.STOPPED}) {
            conflict(() -> check(vm(VmPhase.RUNNING, desired, VpIndexPolicy.SLOT_INDEX, SPARSE, true), target()),
                    "desired " + desired, "only a running VM");
        }
        MigrationRules.Vm nowhere = new MigrationRules.Vm("vm-1", VmPhase.RUNNING, DesiredState.RUNNING, null, false,
                VpIndexPolicy.SLOT_INDEX, SPARSE, true, 64);
        conflict(() -> check(nowhere, target()), "only a running VM");
    }

    @Test
    void aVmOnADeadNodeCannotBeSent() {
        MigrationRules.Vm onDeadNode = new MigrationRules.Vm("vm-1", VmPhase.RUNNING, DesiredState.RUNNING, "a", false,
                VpIndexPolicy.SLOT_INDEX, SPARSE, true, 64);
        conflict(() -> check(onDeadNode, target()), "node a", "not live");
    }

    @Test
    void theTargetMustBeAnotherNode() {
        conflict(() -> MigrationRules.check(vm(), Optional.empty(), "a", Optional.of(target())), "already runs on node a");
    }

    @Test
    void anUnregisteredTargetIsAnInvalidValue() {
        invalid(() -> MigrationRules.check(vm(), Optional.empty(), "nowhere", Optional.empty()), "targetNode",
                "no node named 'nowhere' is registered");
    }

    @Test
    void aDeadTargetOrOneThatRunsNoVmsIsAConflict() {
        MigrationRules.Target t = target();
        conflict(() -> check(vm(), new MigrationRules.Target("b", false, true, null, t.provider(), t.providerName(),
                PVM, 1024, 16)), "node b is not live");
        conflict(() -> check(vm(), new MigrationRules.Target("b", true, false, "no /dev/kvm", t.provider(),
                t.providerName(), PVM, 1024, 16)), "node b cannot run VMs: no /dev/kvm");
    }

    @Test
    void aTargetThatPublishesNoAllocatableIsAConflict() {
        conflict(() -> check(vm(), offering(null, 16)), "does not publish", "older quarkvm");
        conflict(() -> check(vm(), offering(1024, null)), "does not publish", "older quarkvm");
    }

    @Test
    void aTargetOfferingFewerVcpusThanTheVmHasSlotsCannotRunIt() {
        invalid(() -> check(vm(), offering(1024, 11)), "targetNode", "12 vCPU slots", "at most 11 vCPUs");
    }

    @Test
    void aTargetOfferingLessMemoryThanTheVmNeedsCannotRunIt() {
        invalid(() -> check(vm(), offering(62, 16)), "targetNode", "needs 64 MiB", "offers 62 MiB");
    }

    @Test
    void aTargetWithAProviderThisVersionDoesNotKnowCannotRunIt() {
        invalid(() -> check(vm(), new MigrationRules.Target("b", true, true, null, Optional.empty(), "QUANTUM_MSR", PVM,
                1024, 16)), "targetNode", "QUANTUM_MSR", "does not know");
    }

    @Test
    void aTargetWhoseProviderCannotHonourThePolicyCannotRunIt() {
        invalid(() -> check(vm(VmPhase.RUNNING, DesiredState.RUNNING, VpIndexPolicy.APIC_ID, SPARSE, true),
                target(VpIndexProvider.KERNEL_IMPLICIT, IMPLICIT)), "targetNode", "KERNEL_IMPLICIT", "sparse APIC IDs");
        invalid(() -> check(vm(), target(VpIndexProvider.UNSUPPORTED, PVM)), "targetNode",
                "wants hyperv.vpindex");
        // 2 sockets x 33 cores: 66 slots, but APIC IDs up to 96, which a settable kernel of KVM_CAP_MAX_VCPUS 80 refuses
        NodeCapabilities settable80 = new NodeCapabilities(12, 8, 80, 4096, true, true, false, false);
        MigrationRules.Target settable = new MigrationRules.Target("b", true, true, null,
                Optional.of(VpIndexProvider.KERNEL_SETTABLE), "KERNEL_SETTABLE", settable80, 1024, 80);
        invalid(() -> check(vm(VmPhase.RUNNING, DesiredState.RUNNING, VpIndexPolicy.APIC_ID, new Topology(2, 1, 33, 1), true),
                settable), "targetNode", "VP index 96", "KVM_CAP_MAX_VCPUS (80)");
    }

    @Test
    void aTargetWhoseKvmAllowsFewerVcpusThanItsOperatorOffersCannotRunIt() {
        NodeCapabilities smallKvm = new NodeCapabilities(12, 2, 8, 4096, false, false, true, true);
        MigrationRules.Target t = new MigrationRules.Target("b", true, true, null, Optional.of(VpIndexProvider.USERSPACE_MSR),
                "USERSPACE_MSR", smallKvm, 1024, 64);
        invalid(() -> check(vm(), t), "targetNode", "KVM_CAP_MAX_VCPUS is 8");
    }
}

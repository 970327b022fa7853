package io.quarkvm.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.HypervisorVm;
import io.quarkvm.kvm.KernelHyperv;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.MsrEntry;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * KERNEL_SETTABLE and KERNEL_IMPLICIT against the Hyper-V kernel double over real /dev/kvm: whatever the policy,
 * the plugged subset and the hot-plug order, every guest reads (RDMSR, answered by the "kernel") the persisted VP
 * index, and the VMM never sees the guest's accesses.
 */
class KernelVpIndexTest {

    /** 2 × 2 × 2: dense APIC IDs 0-7. */
    private static final Topology DENSE = new Topology(2, 1, 2, 2);
    /** 2 sockets × 3 cores × 2 threads: APIC IDs 0-5 and 8-13. */
    private static final Topology HOLEY = VirtualMachineIdentityTest.HOLEY;

    enum Mode {
        SETTABLE(KernelHyperv.SETTABLE, VpIndexProvider.KERNEL_SETTABLE),
        IMPLICIT(KernelHyperv.IMPLICIT, VpIndexProvider.KERNEL_IMPLICIT);

        final KernelHyperv kernel;
        final VpIndexProvider provider;

        Mode(KernelHyperv kernel, VpIndexProvider provider) {
            this.kernel = kernel;
            this.provider = provider;
        }
    }

    /** Slots plugged first, in plug order: cpu_index i is the i-th slot of {@code plugOrder}. */
    private static List<VcpuIdentity> assign(Topology topology, VpIndexPolicy policy, int... plugOrder) {
        List<VcpuIdentity> identities = new ArrayList<>();
        for (int i = 0; i < plugOrder.length; i++) {
            identities.add(VcpuIdentity.assign(topology, policy, topology.slotAt(plugOrder[i]), i));
        }
        return identities;
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void cpuIndexPolicy(Mode mode) throws Exception {
        // Slots plugged in the order 0, 3, 1, 2 so far; cpu_index 2 (slot 1) is unplugged now.
        List<VcpuIdentity> known = assign(HOLEY, VpIndexPolicy.CPU_INDEX, 0, 3, 1, 2);
        List<VcpuIdentity> plugged = List.of(known.get(0), known.get(1), known.get(3));
        List<VcpuIdentity> later = assign(HOLEY, VpIndexPolicy.CPU_INDEX, 0, 3, 1, 2, 11, 6);
        scenario(mode, HOLEY, VpIndexPolicy.CPU_INDEX, known, plugged,
                List.of(known.get(2), later.get(4), later.get(5)));
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void apicIdPolicyOnADenseTopology(Mode mode) throws Exception {
        List<VcpuIdentity> known = assign(DENSE, VpIndexPolicy.APIC_ID, 0, 5, 2);
        List<VcpuIdentity> later = assign(DENSE, VpIndexPolicy.APIC_ID, 0, 5, 2, 7, 1, 6);
        scenario(mode, DENSE, VpIndexPolicy.APIC_ID, known, known, later.subList(3, 6));
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void slotIndexPolicyOnAHoleyTopology(Mode mode) throws Exception {
        List<VcpuIdentity> known = assign(HOLEY, VpIndexPolicy.SLOT_INDEX, 0, 4, 7);
        List<VcpuIdentity> later = assign(HOLEY, VpIndexPolicy.SLOT_INDEX, 0, 4, 7, 10, 2, 11, 5);
        scenario(mode, HOLEY, VpIndexPolicy.SLOT_INDEX, known, known, later.subList(3, 7));
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void everySlotPluggedAtBoot(Mode mode) throws Exception {
        for (VpIndexPolicy policy : VpIndexPolicy.values()) {
            Topology topology = policy == VpIndexPolicy.APIC_ID ? DENSE : HOLEY;
            List<VcpuIdentity> all = VirtualMachineIdentityTest.boot(topology, policy, topology.maxVcpus());
            scenario(mode, topology, policy, all, all, List.of());
        }
    }

    /**
     * Boots {@code plugged} (of {@code known}), hot-plugs {@code hotplugged} in that order, then unplugs and
     * re-plugs one; every guest must read its persisted VP index throughout.
     */
    private static void scenario(Mode mode, Topology topology, VpIndexPolicy policy, List<VcpuIdentity> known,
                                 List<VcpuIdentity> plugged, List<VcpuIdentity> hotplugged) throws Exception {
        ProbeReports reports = new ProbeReports(plugged.size() + hotplugged.size());
        VmSpec spec = VmSpec.probe(16, topology, plugged, true, mode.provider).withKnownVcpus(known, policy);
        try (Hypervisor hypervisor = TestHypervisors.open(mode.kernel);
             VirtualMachine vm = VirtualMachine.start(hypervisor, spec, reports)) {
            for (VcpuIdentity identity : hotplugged) {
                vm.hotplug(identity);
            }
            reports.awaitAllReported();
            List<VcpuIdentity> everyPlugged = new ArrayList<>(plugged);
            everyPlugged.addAll(hotplugged);
            for (VcpuIdentity expected : everyPlugged) {
                assertGuestSaw(vm, reports, expected);
            }
            System.out.printf("%s %s on %s: %d plugged, %d vCPUs created in KVM%n", mode, policy, topology,
                    everyPlugged.size(), vm.vcpusCreated());

            VcpuIdentity replugged = everyPlugged.get(everyPlugged.size() / 2);
            vm.park(replugged.apicId());
            long parkedAt = vm.heartbeats(replugged.cpuIndex());
            Thread.sleep(60);
            assertEquals(parkedAt, vm.heartbeats(replugged.cpuIndex()), "a parked vCPU ran");
            vm.hotplug(replugged);
            awaitRecheck(vm, replugged, parkedAt);
            ProbeRecord record = vm.probeRecord(replugged.cpuIndex());
            assertEquals(replugged.vpIndex(), record.latest().orElseThrow().vpIndex(), "VP index after re-plug");
            assertTrue(reports.violations.isEmpty(), "violations on " + reports.violations);
            assertTrue(reports.crashes.isEmpty(), reports.crashes.toString());
        }
    }

    private static void assertGuestSaw(VirtualMachine vm, ProbeReports reports, VcpuIdentity expected) {
        GuestIdentity seen = reports.identities.get(expected.cpuIndex());
        assertTrue(seen.hypervFound(), "Hyper-V advertised to " + expected);
        assertEquals(expected.vpIndex(), seen.vpIndex(), "VP index the guest read on " + expected);
        assertEquals(expected.apicId(), seen.x2ApicIdLeafB(), "x2APIC ID of " + expected);
        assertEquals(WrmsrOutcome.FAULTED, seen.wrmsr(), "the kernel refuses a guest WRMSR of the VP index");
        VcpuCounters counters = vm.counters(expected.apicId());
        assertEquals(0, counters.rdmsrAnswered(), "the kernel, not the VMM, answers the RDMSR");
        assertEquals(0, counters.msrAccessesRefused(), "the kernel, not the VMM, refuses the WRMSR");
    }

    private static void awaitRecheck(VirtualMachine vm, VcpuIdentity identity, long from) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (vm.heartbeats(identity.cpuIndex()) < from + 2L * GuestProbe.RECHECK_INTERVAL) {
            assertTrue(System.nanoTime() < deadline, "the re-plugged vCPU " + identity + " does not run");
            Thread.sleep(10);
        }
    }

    @Test
    void implicitRefusesApicIdsWithHoles() {
        List<VcpuIdentity> identities = VirtualMachineIdentityTest.boot(HOLEY, VpIndexPolicy.APIC_ID, 4);
        VmSpec spec = VmSpec.probe(16, HOLEY, identities, true, VpIndexProvider.KERNEL_IMPLICIT)
                .withKnownVcpus(identities, VpIndexPolicy.APIC_ID);
        try (Hypervisor hypervisor = TestHypervisors.open(KernelHyperv.IMPLICIT)) {
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> VirtualMachine.start(hypervisor, spec, VmListener.NONE));
            System.out.println("refused: " + refused.getMessage());
            assertTrue(refused.getMessage().contains("sparse APIC IDs of 2×1×3×2"), refused.getMessage());

            // Without the policy the VMM finds the hole itself: VP index 6 has no vCPU to be created for it.
            List<VcpuIdentity> all = VirtualMachineIdentityTest.boot(HOLEY, VpIndexPolicy.APIC_ID, 12);
            VmSpec holey = VmSpec.probe(16, HOLEY, all, true, VpIndexProvider.KERNEL_IMPLICIT);
            IllegalArgumentException hole = assertThrows(IllegalArgumentException.class,
                    () -> VirtualMachine.start(hypervisor, holey, VmListener.NONE));
            System.out.println("refused: " + hole.getMessage());
            assertTrue(hole.getMessage().contains("VP index 6"), hole.getMessage());
        }
    }

    @Test
    void implicitRefusesAHotPlugWhoseVpIndexWasGivenAway() throws Exception {
        List<VcpuIdentity> identities = assign(HOLEY, VpIndexPolicy.CPU_INDEX, 0, 1, 2);
        VmSpec spec = VmSpec.probe(16, HOLEY, identities.subList(0, 2), true, VpIndexProvider.KERNEL_IMPLICIT);
        try (Hypervisor hypervisor = TestHypervisors.open(KernelHyperv.IMPLICIT);
             VirtualMachine vm = VirtualMachine.start(hypervisor, spec, VmListener.NONE)) {
            // Slot 5 with VP index 3: VP index 2 has no identity, so no filler can be created for it.
            VcpuIdentity skipping = new VcpuIdentity(HOLEY.slotAt(5), 3, HOLEY.apicIdOf(HOLEY.slotAt(5)), 3);
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> vm.hotplug(skipping));
            System.out.println("refused: " + refused.getMessage());
            vm.hotplug(identities.get(2));
            VcpuIdentity taken = new VcpuIdentity(HOLEY.slotAt(6), 3, HOLEY.apicIdOf(HOLEY.slotAt(6)), 1);
            refused = assertThrows(IllegalStateException.class, () -> vm.hotplug(taken));
            System.out.println("refused: " + refused.getMessage());
            assertEquals(3, vm.vcpusCreated());
        }
    }

    @Test
    void settableRefusesAVpIndexAtOrAboveKvmMaxVcpus() {
        VcpuIdentity tooLarge = new VcpuIdentity(HOLEY.slotAt(0), 0, 0, 5000);
        VmSpec spec = VmSpec.probe(16, HOLEY, List.of(tooLarge), true, VpIndexProvider.KERNEL_SETTABLE);
        try (Hypervisor hypervisor = TestHypervisors.open(KernelHyperv.SETTABLE)) {
            IdentityMismatchException refused = assertThrows(IdentityMismatchException.class,
                    () -> VirtualMachine.start(hypervisor, spec, VmListener.NONE));
            System.out.println("refused: " + refused.getMessage());
            assertTrue(refused.getMessage().contains("KVM_SET_MSRS refused HV_X64_MSR_VP_INDEX = 5000"));
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aReadBackThatDiffersAbortsTheStart(Mode mode) {
        List<VcpuIdentity> identities = VirtualMachineIdentityTest.boot(DENSE, VpIndexPolicy.SLOT_INDEX, 4);
        VmSpec spec = VmSpec.probe(16, DENSE, identities, true, mode.provider);
        try (Hypervisor real = TestHypervisors.open(mode.kernel)) {
            // A kernel whose VP index of the third vCPU created reads back one higher than it should.
            Hypervisor lying = lyingAbout(real, 2);
            IdentityMismatchException refused = assertThrows(IdentityMismatchException.class,
                    () -> VirtualMachine.start(lying, spec, VmListener.NONE));
            System.out.println(mode + " refused: " + refused.getMessage());
            assertTrue(refused.getMessage().contains("cpu_index 2"), refused.getMessage());
            assertTrue(refused.getMessage().contains("VP index 3 from the kernel"), refused.getMessage());
        }
    }

    /** The hypervisor, except that KVM_GET_MSRS on its {@code victim}-th vCPU created adds 1 to the VP index. */
    private static Hypervisor lyingAbout(Hypervisor real, int victim) {
        int[] created = {0};
        return proxy(Hypervisor.class, real, (method, result) -> method.equals("createVm")
                ? proxy(HypervisorVm.class, (HypervisorVm) result, (vmMethod, vcpu) -> {
                    if (!vmMethod.equals("createVcpu") || created[0]++ != victim) {
                        return vcpu;
                    }
                    return proxy(HypervisorVcpu.class, (HypervisorVcpu) vcpu, (vcpuMethod, read) ->
                            vcpuMethod.equals("getMsrs") ? ((List<?>) read).stream().map(entry -> {
                                MsrEntry msr = (MsrEntry) entry;
                                return msr.index() == GuestProbe.HV_X64_MSR_VP_INDEX
                                        ? new MsrEntry(msr.index(), msr.data() + 1) : msr;
                            }).toList() : read);
                }) : result);
    }

    interface ResultFilter {
        Object filter(String method, Object result);
    }

    private static <T> T proxy(Class<T> type, T target, ResultFilter filter) {
        InvocationHandler handler = (self, method, args) -> {
            try {
                return filter.filter(method.getName(), method.invoke(target, args));
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
    }

}

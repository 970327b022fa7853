package io.quarkvm.vmm;

import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexProviders;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.MsrEntry;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * The two providers where the kernel answers the guest's RDMSR of HV_X64_MSR_VP_INDEX (ARCHITECTURE.md §1):
 * <ul>
 * <li>{@code KERNEL_SETTABLE} (KVM_CAP_HYPERV_VP_INDEX): each vCPU's VP index is set with KVM_SET_MSRS after it is
 *     created, then read back with KVM_GET_MSRS;</li>
 * <li>{@code KERNEL_IMPLICIT} (KVM_CAP_HYPERV only): the kernel answers the creation order (vcpu_idx) and refuses
 *     host writes, so vCPUs are created in VP index order, 0, 1, 2..., with <em>parked</em> vCPUs (created, never
 *     run) for the VP indexes of slots not plugged now; then each is read back with KVM_GET_MSRS.</li>
 * </ul>
 * In both, a vCPU whose read-back differs from the persisted VP index never runs: the start (or hot-plug) fails.
 */
final class KernelVpIndex {

    /** cpu_index of a parked vCPU derived for a slot that has never been plugged (it gets one when plugged). */
    static final int NO_CPU_INDEX = -1;

    /** One vCPU to create, in creation order: plugged at boot, or parked (known identity, or derived). */
    record Planned(VcpuIdentity identity, boolean plugged, boolean derived) {
    }

    private KernelVpIndex() {
    }

    static void requireSupported(Hypervisor hypervisor, VpIndexProvider provider) {
        KvmCapability needed = provider == VpIndexProvider.KERNEL_SETTABLE ? KvmCapability.HYPERV_VP_INDEX
                : KvmCapability.HYPERV;
        if (hypervisor.checkExtension(needed) <= 0) {
            throw new IllegalStateException("VP index provider " + provider + " needs " + needed.cName()
                    + ", which this node's KVM lacks");
        }
    }

    /**
     * KERNEL_IMPLICIT: the vCPUs to create at boot, in creation order, so that the i-th created has VP index i, up
     * to the largest VP index plugged at boot.
     *
     * @throws IllegalArgumentException a VP index below it has no vCPU the VMM could create for it
     */
    static List<Planned> creationOrder(VmSpec spec) {
        requireImplicitPossible(spec);
        int largest = spec.vcpus().stream().mapToInt(VcpuIdentity::vpIndex).max().orElseThrow();
        List<Planned> plan = new ArrayList<>();
        Set<VcpuIdentity> plugged = Set.copyOf(spec.vcpus());
        for (int vpIndex = 0; vpIndex <= largest; vpIndex++) {
            VcpuIdentity identity = filler(spec, vpIndex, List.of());
            plan.add(new Planned(identity, plugged.contains(identity), identity.cpuIndex() == NO_CPU_INDEX));
        }
        return plan;
    }

    /** Refuses at once what can never work under KERNEL_IMPLICIT, whatever is plugged later. */
    static void requireImplicitPossible(VmSpec spec) {
        if (spec.vpIndexPolicy().filter(policy -> !VpIndexProviders.creationOrderCanGive(policy, spec.topology())).isPresent()) {
            throw new IllegalArgumentException("this node's kernel answers the VP index with the vCPU creation order "
                    + "(KVM_CAP_HYPERV without KVM_CAP_HYPERV_VP_INDEX), which cannot give the sparse APIC IDs of "
                    + describe(spec) + " as VP indexes (policy APIC_ID): no vCPU can be created for the VP indexes "
                    + "in the holes");
        }
    }

    /**
     * The vCPU to create as number {@code vpIndex}: the known identity with that VP index, or one derived from the
     * policy for a slot with no identity yet, parked until plugged.
     *
     * @param existing vCPUs the VM already has (their APIC IDs are taken)
     */
    static VcpuIdentity filler(VmSpec spec, int vpIndex, Collection<VcpuIdentity> existing) {
        Optional<VcpuIdentity> known = spec.knownVcpus().stream().filter(v -> v.vpIndex() == vpIndex).findFirst();
        if (known.isPresent()) {
            return known.get();
        }
        Optional<Slot> slot = spec.vpIndexPolicy().flatMap(policy -> policy.slotWithVpIndex(spec.topology(), vpIndex));
        if (slot.isEmpty()) {
            throw new IllegalArgumentException("this node's kernel answers the VP index with the vCPU creation order "
                    + "(KVM_CAP_HYPERV without KVM_CAP_HYPERV_VP_INDEX), so VP index " + vpIndex + " needs a vCPU "
                    + "created as number " + vpIndex + ", but no identity of the VM has it and "
                    + spec.vpIndexPolicy().map(p -> "policy " + p + " gives it to no slot of " + describe(spec))
                    .orElse("the spec names no VP index policy to derive one from")
                    + "; pass every identity of the VM (VmSpec.withKnownVcpus)");
        }
        int apicId = spec.topology().apicIdOf(slot.get());
        boolean taken = spec.knownVcpus().stream().anyMatch(v -> v.apicId() == apicId)
                || existing.stream().anyMatch(v -> v.apicId() == apicId);
        if (taken) {
            throw new IllegalArgumentException("VP index " + vpIndex + " belongs to slot (" + slot.get() + "), APIC ID "
                    + apicId + ", which already has a vCPU with another VP index");
        }
        return new VcpuIdentity(slot.get(), NO_CPU_INDEX, apicId, vpIndex);
    }

    /** KERNEL_SETTABLE: KVM_SET_MSRS of the VP index, before anything reads it. */
    static void set(HypervisorVcpu vcpu, VcpuIdentity identity) {
        int set = vcpu.setMsrs(List.of(new MsrEntry(GuestProbe.HV_X64_MSR_VP_INDEX, identity.vpIndex())));
        if (set != 1) {
            throw new IdentityMismatchException("vCPU " + describe(identity) + ": KVM_SET_MSRS refused "
                    + "HV_X64_MSR_VP_INDEX = " + identity.vpIndex() + " (the kernel takes only values below its "
                    + "KVM_MAX_VCPUS)");
        }
    }

    /** KVM_GET_MSRS of the VP index: what the kernel will answer the guest; empty when it cannot be read. */
    static OptionalLong read(HypervisorVcpu vcpu) {
        List<MsrEntry> read = vcpu.getMsrs(GuestProbe.HV_X64_MSR_VP_INDEX);
        return read.size() == 1 ? OptionalLong.of(read.get(0).data()) : OptionalLong.empty();
    }

    /** Read-back before the first KVM_RUN: the kernel's VP index must be the wanted one. */
    static void verify(HypervisorVcpu vcpu, VcpuIdentity identity) {
        OptionalLong kernel = read(vcpu);
        if (kernel.isEmpty() || kernel.getAsLong() != identity.vpIndex()) {
            throw new IdentityMismatchException("vCPU " + describe(identity) + " would run with VP index "
                    + (kernel.isEmpty() ? "unreadable (KVM_GET_MSRS of HV_X64_MSR_VP_INDEX failed)"
                    : String.valueOf(kernel.getAsLong())) + " from the kernel");
        }
    }

    static String describe(VcpuIdentity identity) {
        return (identity.cpuIndex() == NO_CPU_INDEX ? "parked, never plugged" : "cpu_index " + identity.cpuIndex())
                + " (APIC ID " + identity.apicId() + ", VP index " + identity.vpIndex() + ", slot " + identity.slot()
                + ")";
    }

    private static String describe(VmSpec spec) {
        var t = spec.topology();
        return t.sockets() + "×" + t.dies() + "×" + t.cores() + "×" + t.threads();
    }
}

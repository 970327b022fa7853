package io.quarkvm.service;

import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkvm.persistence.GuestBootEntity;
import io.quarkvm.persistence.GuestBootResidenceEntity;
import io.quarkvm.persistence.GuestVcpuObservationEntity;
import io.quarkvm.persistence.VmEntity;
import jakarta.enterprise.context.ApplicationScoped;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** What each boot's guest read itself, next to the persisted identity, as GET .../guest-identity shows it. */
@ApplicationScoped
public class GuestIdentityQuery {

    /**
     * @param observedApicId   the full x2APIC ID from CPUID 0xB EDX
     * @param observedApicIdLeaf1 CPUID 0x1 EBX[31:24], the legacy 8-bit APIC ID
     * @param observedVpIndex  HV_X64_MSR_VP_INDEX as read by the guest; null when it found no Hyper-V to ask
     */
    public record ObservedVcpu(int cpuIndex, int apicId, int vpIndex, Instant reportedAt, Integer observedApicId,
                               Integer observedApicIdLeaf1, Integer observedVpIndex, Boolean hypervLeavesFound,
                               Boolean vpIndexWriteRefused, long heartbeats, int violations) {
        static ObservedVcpu of(GuestVcpuObservationEntity row) {
            return new ObservedVcpu(row.cpuIndex, row.apicId, row.vpIndex, row.reportedAt, row.observedX2apicId,
                    row.observedApicIdLeaf1, row.observedVpIndex, row.hypervLeavesFound, row.vpIndexWriteRefused,
                    row.heartbeats, row.violations);
        }
    }

    /** A node the boot ran on from {@code arrivedAt}; {@code migrationId} names the migration that moved it there. */
    public record Residence(String node, String hypervisor, String provider, Instant arrivedAt, UUID migrationId) {
        static Residence of(GuestBootResidenceEntity row) {
            return new Residence(row.node, row.hypervisor, row.provider, row.arrivedAt, row.migrationId);
        }
    }

    /**
     * {@code node}, {@code hypervisor} and {@code provider} are where the boot runs now (or ended); {@code residences}
     * every node it ran on, oldest first.
     */
    public record Boot(int boot, String node, String hypervisor, String provider, Instant startedAt, Instant endedAt, String endReason,
                       List<Residence> residences, List<ObservedVcpu> vcpus) {
    }

    public record GuestIdentityView(List<Boot> boots) {
    }

    public GuestIdentityView of(UUID vmId) {
        return QuarkusTransaction.requiringNew().call(() -> {
            if (VmEntity.findById(vmId) == null) {
                throw new VmNotFoundException(vmId);
            }
            return new GuestIdentityView(GuestBootEntity.ofVm(vmId).stream()
                    .map(boot -> new Boot(boot.boot, boot.node, boot.hypervisor, boot.provider, boot.startedAt, boot.endedAt,
                            boot.endReason, boot.residences.stream().map(Residence::of).toList(),
                            boot.vcpus.stream().map(ObservedVcpu::of).toList()))
                    .toList());
        });
    }
}

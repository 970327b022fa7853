package io.quarkvm.node;

import io.quarkvm.domain.NodeCapabilities;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.KvmCapability;

import java.util.List;
import java.util.OptionalInt;

/** Asks this host's KVM (or the kernel double over it), once, what it can do. */
final class HostProbe {

    record Result(NodeCapabilities capabilities, boolean canRunVms, String reason) {
    }

    private HostProbe() {
    }

    static Result probe(Hypervisor hypervisor) {
        NodeCapabilities capabilities = new NodeCapabilities(hypervisor.apiVersion(),
                hypervisor.checkExtension(KvmCapability.NR_VCPUS),
                hypervisor.checkExtension(KvmCapability.MAX_VCPUS),
                hypervisor.checkExtension(KvmCapability.MAX_VCPU_ID),
                hypervisor.checkExtension(KvmCapability.HYPERV) > 0,
                hypervisor.checkExtension(KvmCapability.HYPERV_VP_INDEX) > 0,
                hypervisor.checkExtension(KvmCapability.X86_USER_SPACE_MSR) > 0,
                hypervisor.checkExtension(KvmCapability.X86_MSR_FILTER) > 0);
        if (hypervisor.checkExtension(KvmCapability.IMMEDIATE_EXIT) <= 0) {
            return new Result(capabilities, false, "KVM lacks KVM_CAP_IMMEDIATE_EXIT, which pausing a vCPU needs");
        }
        return new Result(capabilities, true, null);
    }

    static Result unusable(String reason) {
        return new Result(NodeCapabilities.NONE, false, reason);
    }

    /** MemTotal of /proc/meminfo (proc(5): "MemTotal:  16303764 kB", in KiB) in whole MiB; empty if absent. */
    static OptionalInt memTotalMib(List<String> meminfo) {
        for (String line : meminfo) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length == 3 && fields[0].equals("MemTotal:") && fields[2].equals("kB")) {
                try {
                    return OptionalInt.of((int) Math.min(Integer.MAX_VALUE, Long.parseLong(fields[1]) / 1024));
                } catch (NumberFormatException e) {
                    return OptionalInt.empty();
                }
            }
        }
        return OptionalInt.empty();
    }
}

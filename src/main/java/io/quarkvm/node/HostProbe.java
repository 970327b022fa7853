package io.quarkvm.node;

import io.quarkvm.domain.NodeCapabilities;
import io.quarkvm.kvm.Kvm;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.KvmException;

/** Asks this host's KVM, once, what it can do. A host without a usable KVM is a node that runs no VM. */
final class HostProbe {

    record Result(NodeCapabilities capabilities, boolean canRunVms, String reason) {
    }

    private HostProbe() {
    }

    static Result probe(String device) {
        try (Kvm kvm = Kvm.open(device)) {
            NodeCapabilities capabilities = new NodeCapabilities(kvm.apiVersion(),
                    kvm.checkExtension(KvmCapability.NR_VCPUS),
                    kvm.checkExtension(KvmCapability.MAX_VCPUS),
                    kvm.checkExtension(KvmCapability.MAX_VCPU_ID),
                    kvm.checkExtension(KvmCapability.HYPERV) > 0,
                    kvm.checkExtension(KvmCapability.HYPERV_VP_INDEX) > 0,
                    kvm.checkExtension(KvmCapability.X86_USER_SPACE_MSR) > 0,
                    kvm.checkExtension(KvmCapability.X86_MSR_FILTER) > 0);
            if (kvm.checkExtension(KvmCapability.IMMEDIATE_EXIT) <= 0) {
                return new Result(capabilities, false, "KVM lacks KVM_CAP_IMMEDIATE_EXIT, which pausing a vCPU needs");
            }
            return new Result(capabilities, true, null);
        } catch (KvmException e) {
            return new Result(NodeCapabilities.NONE, false, "cannot use " + device + ": " + e.getMessage());
        } catch (IllegalStateException e) {
            return new Result(NodeCapabilities.NONE, false, e.getMessage());
        }
    }
}

package io.quarkvm.node;

import io.quarkvm.config.HypervisorChoice;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.kvm.Hypervisor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** Opens the backend {@code quarkvm.node.hypervisor} asks for, or says why none could be opened. */
final class HostHypervisor {

    /** @param hypervisor present exactly when {@code kind} is not {@link HypervisorKind#NONE} */
    record Opened(HypervisorKind kind, Hypervisor hypervisor, String reason) {
    }

    /** One backend: how to open it, and what to call it when it cannot be opened. */
    record Backend(HypervisorKind kind, String what, Supplier<Hypervisor> opener) {
    }

    private HostHypervisor() {
    }

    static Opened open(HypervisorChoice choice, Backend kvm, Backend emulated) {
        List<Backend> candidates = switch (choice) {
            case AUTO -> List.of(kvm, emulated);
            case KVM -> List.of(kvm);
            case EMULATED -> List.of(emulated);
        };
        List<String> failures = new ArrayList<>();
        for (Backend backend : candidates) {
            try {
                return new Opened(backend.kind(), backend.opener().get(), null);
            } catch (RuntimeException | LinkageError e) {
                failures.add("cannot use " + backend.what() + ": " + e.getMessage());
            }
        }
        return new Opened(HypervisorKind.NONE, null, String.join("; ", failures)
                + " (quarkvm.node.hypervisor=" + choice.name().toLowerCase() + ")");
    }
}

package io.quarkvm.domain;

import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * In which order a VM that has no node yet tries the live nodes: hardware virtualization before the emulator (a
 * guest runs there many times faster), and among nodes of one kind the node that took the request (no hop).
 */
public final class NodePreference {

    private NodePreference() {
    }

    public static <N> List<N> order(List<N> nodes, Function<N, HypervisorKind> hypervisor, Predicate<N> isLocal) {
        Comparator<N> byBackend = Comparator.comparingInt(node -> rank(hypervisor.apply(node)));
        return nodes.stream().sorted(byBackend.thenComparing(node -> !isLocal.test(node))).toList();
    }

    private static int rank(HypervisorKind kind) {
        return switch (kind) {
            case KVM -> 0;
            case EMULATED -> 1;
            case NONE -> 2;
        };
    }
}

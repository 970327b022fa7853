package io.quarkvm.domain;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class NodePreferenceTest {

    record Node(String name, HypervisorKind hypervisor) {
    }

    private static List<String> order(String local, Node... nodes) {
        return NodePreference.order(List.of(nodes), Node::hypervisor, node -> node.name().equals(local)).stream()
                .map(Node::name).toList();
    }

    @Test
    void kvmNodesComeBeforeEmulatedOnesEvenWhenTheRequestCameToAnEmulatedNode() {
        assertThat(order("soft", new Node("soft", HypervisorKind.EMULATED), new Node("hard", HypervisorKind.KVM)))
                .containsExactly("hard", "soft");
    }

    @Test
    void amongNodesOfOneKindTheLocalNodeComesFirstAndTheOthersKeepTheirOrder() {
        assertThat(order("b", new Node("a", HypervisorKind.KVM), new Node("b", HypervisorKind.KVM),
                new Node("c", HypervisorKind.KVM))).containsExactly("b", "a", "c");
        assertThat(order("z", new Node("a", HypervisorKind.EMULATED), new Node("c", HypervisorKind.EMULATED)))
                .containsExactly("a", "c");
    }

    @Test
    void nodesWithoutABackendComeLast() {
        assertThat(order("none", new Node("none", HypervisorKind.NONE), new Node("soft", HypervisorKind.EMULATED),
                new Node("hard", HypervisorKind.KVM), new Node("soft-local-not", HypervisorKind.EMULATED)))
                .containsExactly("hard", "soft", "soft-local-not", "none");
    }

    @Test
    void noNodesNoOrder() {
        assertThat(order("x")).isEmpty();
    }
}

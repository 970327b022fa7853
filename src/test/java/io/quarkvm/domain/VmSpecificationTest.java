package io.quarkvm.domain;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VmSpecificationTest {

    @Test
    void defaultsAreOneDieAllVcpusHypervOnProbeGuestLatestMachineType() {
        VmSpecification spec = VmSpecification.of("win-1", null, 2L, null, 3L, 2L, null, null, null, null);
        assertThat(spec.topology()).isEqualTo(new Topology(2, 1, 3, 2));
        assertThat(spec.vcpus()).isEqualTo(12);
        assertThat(spec.hypervVpIndex()).isTrue();
        assertThat(spec.guestKind()).isEqualTo(GuestKind.PROBE);
        assertThat(spec.machineType()).isEqualTo(MachineType.LATEST);
        assertThat(spec.memoryMiB()).isEqualTo(VmSpecification.DEFAULT_MEMORY_MIB);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "has space", "-lead", "trail-", "tab\tname", "bell\u0007", "é", "a/b"})
    void rejectsNamesThatAreEmptyOrNotPrintableLabels(String name) {
        assertField(() -> VmSpecification.of(name, null, 1L, null, 1L, 1L, null, null, null, null), "name");
    }

    @ParameterizedTest
    @ValueSource(strings = {"00000000-0000-0000-0000-000000000000", "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            "3F2504E0-4F89-11D3-9A0C-0305E82C3301"})
    void rejectsNamesWrittenLikeAnId(String name) {
        assertField(() -> VmSpecification.of(name, null, 1L, null, 1L, 1L, null, null, null, null), "name");
    }

    @ParameterizedTest
    @ValueSource(strings = {"a-b-c-d-e", "3f2504e0-4f89-11d3-9a0c-0305e82c330", "3f2504e0-4f89-11d3-9a0c-0305e82c3301x",
            "gf2504e0-4f89-11d3-9a0c-0305e82c3301"})
    void acceptsNamesThatMerelyResembleAnId(String name) {
        assertThat(VmSpecification.of(name, null, 1L, null, 1L, 1L, null, null, null, null).name()).isEqualTo(name);
    }

    @Test
    void rejectsOverlongNamesAndAcceptsTheLongestAllowed() {
        assertThat(VmSpecification.of("a".repeat(63), null, 1L, null, 1L, 1L, null, null, null, null).name()).hasSize(63);
        assertField(() -> VmSpecification.of("a".repeat(64), null, 1L, null, 1L, 1L, null, null, null, null), "name");
        assertField(() -> VmSpecification.of(null, null, 1L, null, 1L, 1L, null, null, null, null), "name");
    }

    @Test
    void rejectsCountsVcpusAndMemoryOutOfRange() {
        assertField(() -> VmSpecification.of("a", null, 0L, null, 1L, 1L, null, null, null, null), "topology.sockets");
        assertField(() -> VmSpecification.of("a", null, null, null, 1L, 1L, null, null, null, null), "topology.sockets");
        assertField(() -> VmSpecification.of("a", null, 1L, 0L, 1L, 1L, null, null, null, null), "topology.dies");
        assertField(() -> VmSpecification.of("a", null, 1L, null, -3L, 1L, null, null, null, null), "topology.cores");
        assertField(() -> VmSpecification.of("a", null, 1L, null, 1L, 99_999_999_999L, null, null, null, null), "topology.threads");
        assertField(() -> VmSpecification.of("a", null, 64L, null, 32L, 1L, null, null, null, null), "topology");
        assertField(() -> VmSpecification.of("a", null, 1L, null, 2L, 1L, 3L, null, null, null), "vcpus");
        assertField(() -> VmSpecification.of("a", null, 1L, null, 2L, 1L, 0L, null, null, null), "vcpus");
        assertField(() -> VmSpecification.of("a", null, 1L, null, 2L, 1L, null, 6L, null, null), "memoryMiB");
        assertField(() -> VmSpecification.of("a", null, 1L, null, 2L, 1L, null, 9L, null, null), "memoryMiB");
        assertField(() -> VmSpecification.of("a", null, 1L, null, 2L, 1L, null, 1L << 40, null, null), "memoryMiB");
        assertField(() -> VmSpecification.of("a", "quarkvm-9", 1L, null, 2L, 1L, null, null, null, null), "machineType");
        assertField(() -> VmSpecification.of("a", null, 1L, null, 2L, 1L, null, null, null, "windows"), "guest.kind");
    }

    /** Kinds by the names the API spells them with; an unknown one is answered with the list (tools read it). */
    @Test
    void guestKindsResolveByTheirNamesAndAnUnknownOneListsThem() {
        assertThat(GuestKind.resolve("probe")).isEqualTo(GuestKind.PROBE);
        assertThat(GuestKind.resolve("triple-fault")).isEqualTo(GuestKind.TRIPLE_FAULT);
        assertThat(GuestKind.resolve("dirty-memory")).isEqualTo(GuestKind.DIRTY_MEMORY);
        assertThatThrownBy(() -> GuestKind.resolve("windows")).hasMessageContaining(
                "known: [probe, triple-fault, dirty-memory]");
    }

    private static void assertField(Runnable creation, String field) {
        assertThatThrownBy(creation::run).isInstanceOfSatisfying(InvalidSpecificationException.class,
                e -> assertThat(e.field()).isEqualTo(field));
    }
}

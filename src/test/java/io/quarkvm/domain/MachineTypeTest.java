package io.quarkvm.domain;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MachineTypeTest {

    @Test
    void eachVersionHasItsPolicy() {
        assertThat(MachineType.resolve("quarkvm-1.0").vpIndexPolicy()).isEqualTo(VpIndexPolicy.CPU_INDEX);
        assertThat(MachineType.resolve("quarkvm-2.0").vpIndexPolicy()).isEqualTo(VpIndexPolicy.APIC_ID);
        assertThat(MachineType.resolve("quarkvm-3.0").vpIndexPolicy()).isEqualTo(VpIndexPolicy.SLOT_INDEX);
    }

    @Test
    void latestAndAbsentMeanTheNewest() {
        assertThat(MachineType.resolve("latest")).isEqualTo(MachineType.QUARKVM_3_0);
        assertThat(MachineType.resolve(null)).isEqualTo(MachineType.QUARKVM_3_0);
        assertThat(MachineType.byName("latest")).isEmpty();
    }

    @Test
    void unknownNamesAreRefusedNamingTheKnownOnes() {
        for (String unknown : new String[] {"quarkvm-4.0", "", "QUARKVM-3.0", "pc-q35"}) {
            assertThatThrownBy(() -> MachineType.resolve(unknown))
                    .isInstanceOfSatisfying(InvalidSpecificationException.class, e -> {
                        assertThat(e.field()).isEqualTo("machineType");
                        assertThat(e.getMessage()).contains("quarkvm-1.0", "quarkvm-3.0", "latest");
                    });
        }
    }
}

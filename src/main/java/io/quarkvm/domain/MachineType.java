package io.quarkvm.domain;

import java.util.Arrays;
import java.util.Optional;

/**
 * Versioned machine types. A VM stores the resolved name, never the alias, so a VM keeps its VP index policy when
 * {@code latest} moves on: that is the compatibility promise machine types exist for.
 */
public enum MachineType {
    QUARKVM_1_0("quarkvm-1.0", VpIndexPolicy.CPU_INDEX,
            "Legacy: VP index = cpu_index (creation order), as kernels without a settable VP index answer"),
    QUARKVM_2_0("quarkvm-2.0", VpIndexPolicy.APIC_ID,
            "VP index = APIC ID: survives out-of-order creation, sparse when a count is not a power of two"),
    QUARKVM_3_0("quarkvm-3.0", VpIndexPolicy.SLOT_INDEX,
            "VP index = topology slot index: survives out-of-order creation and stays dense (upstream QEMU's choice)");

    public static final String LATEST_ALIAS = "latest";
    public static final MachineType LATEST = QUARKVM_3_0;

    private final String typeName;
    private final VpIndexPolicy vpIndexPolicy;
    private final String description;

    MachineType(String typeName, VpIndexPolicy vpIndexPolicy, String description) {
        this.typeName = typeName;
        this.vpIndexPolicy = vpIndexPolicy;
        this.description = description;
    }

    public String typeName() {
        return typeName;
    }

    public VpIndexPolicy vpIndexPolicy() {
        return vpIndexPolicy;
    }

    public String description() {
        return description;
    }

    /** Resolves a name or the {@code latest} alias; a null name means the default, {@code latest}. */
    public static MachineType resolve(String name) {
        if (name == null || LATEST_ALIAS.equals(name)) {
            return LATEST;
        }
        return byName(name).orElseThrow(() -> new InvalidSpecificationException("machineType",
                "unknown machine type '" + name + "'; known: " + Arrays.stream(values()).map(MachineType::typeName).toList()
                        + " and the alias '" + LATEST_ALIAS + "'"));
    }

    public static Optional<MachineType> byName(String name) {
        return Arrays.stream(values()).filter(t -> t.typeName.equals(name)).findFirst();
    }
}

package io.quarkvm.domain;

import java.util.Arrays;

/** The guest programs the service can load; an unmodified OS kernel does not boot on the PVM hosts we run on. */
public enum GuestKind {
    /** Reads its VP index and APIC IDs on every vCPU, reports them, then heartbeats and re-checks them. */
    PROBE("probe"),
    /** Triple-faults as soon as it runs: shows that a guest fault crashes its own VM and nothing else. */
    TRIPLE_FAULT("triple-fault"),
    /**
     * The probe, whose boot vCPU also rewrites one word in each 4 KiB page of a 64 MiB working set at 64 MiB/s (all
     * memory above 2 MiB when there is less), paced by its TSC: a guest that dirties memory at a known rate.
     */
    DIRTY_MEMORY("dirty-memory");

    private final String kindName;

    GuestKind(String kindName) {
        this.kindName = kindName;
    }

    public String kindName() {
        return kindName;
    }

    public static GuestKind resolve(String name) {
        if (name == null) {
            return PROBE;
        }
        return Arrays.stream(values()).filter(k -> k.kindName.equals(name)).findFirst()
                .orElseThrow(() -> new InvalidSpecificationException("guest.kind", "unknown guest kind '" + name
                        + "'; known: " + Arrays.stream(values()).map(GuestKind::kindName).toList()));
    }
}

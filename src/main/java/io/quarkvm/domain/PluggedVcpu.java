package io.quarkvm.domain;

/** A slot that has been plugged at least once: its identity, and whether it is plugged now. */
public record PluggedVcpu(VcpuIdentity identity, boolean plugged) {

    public PluggedVcpu withPlugged(boolean nowPlugged) {
        return new PluggedVcpu(identity, nowPlugged);
    }
}

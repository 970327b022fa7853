package io.quarkvm.service;

import io.quarkvm.persistence.VmEntity;

/** A VM after a state request; {@code settled} when what it was asked to be is what its node observes. */
public record LifecycleOutcome(VmEntity vm, boolean settled) {
}

package io.quarkvm.vmm;

import java.util.Optional;

/**
 * A snapshot of one vCPU's probe record in guest memory (layout in {@link GuestLayout}).
 *
 * @param heartbeat  turns of the probe's main loop so far
 * @param violations re-checks that differed from the first values
 * @param gpFaults   #GP the probe took on RDMSR/WRMSR
 * @param first      the values read at boot
 * @param latest     the values of the latest re-check, once there was one
 */
public record ProbeRecord(long heartbeat, long violations, long gpFaults, GuestIdentity first,
                          Optional<GuestIdentity> latest) {
}

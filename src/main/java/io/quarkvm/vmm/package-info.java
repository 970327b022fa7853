/**
 * A running VM on top of {@code io.quarkvm.kvm}: guest memory laid out by {@link io.quarkvm.vmm.GuestLayout}, the
 * built-in guests ({@link io.quarkvm.vmm.GuestProgram}), per-vCPU CPUID carrying the persisted identities, one
 * platform thread per vCPU, and {@link io.quarkvm.vmm.VirtualMachine} to start, pause, resume, stop, hot-plug and
 * park. Uses the domain's identities as given; never derives them.
 */
package io.quarkvm.vmm;

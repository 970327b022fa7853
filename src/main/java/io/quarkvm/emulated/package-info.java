/**
 * The {@code EMULATED} hypervisor backend: KVM's contract as the VMM uses it ({@link io.quarkvm.kvm.Hypervisor},
 * {@link io.quarkvm.kvm.HypervisorVm}, {@link io.quarkvm.kvm.HypervisorVcpu}, {@link io.quarkvm.kvm.VcpuExit}),
 * carried out by the Unicorn 2 CPU emulator loaded at run time through JNR-FFI ({@link io.quarkvm.emulated.Unicorn},
 * Debian package {@code libunicorn2}). Knows the emulator and KVM's contract, nothing of VMs' identities.
 */
package io.quarkvm.emulated;

/**
 * Raw JNR-FFI bindings to /dev/kvm and the bits of libc they need: ioctl numbers ({@link io.quarkvm.kvm.KvmIoctls}),
 * struct layouts at fixed offsets checked against the kernel headers, one handle per file descriptor
 * ({@link io.quarkvm.kvm.Kvm} → {@link io.quarkvm.kvm.VmFd} → {@link io.quarkvm.kvm.VcpuFd}), exits decoded into
 * {@link io.quarkvm.kvm.VcpuExit}, failures as {@link io.quarkvm.kvm.KvmException}. Knows the KVM ABI and nothing of
 * VMs, guests or identities.
 */
package io.quarkvm.kvm;

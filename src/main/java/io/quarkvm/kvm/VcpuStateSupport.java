package io.quarkvm.kvm;

import java.util.function.ToIntFunction;

/**
 * Which of the optional vCPU state ioctls a VM's KVM offers, asked once per VM with KVM_CHECK_EXTENSION on the VM
 * fd (where api.rst says to ask KVM_CAP_XSAVE2). A vCPU answers "not here" for a part its KVM lacks instead of
 * issuing an ioctl that would fail.
 *
 * @param xsaveBytes the size of the vCPU's XSAVE area: KVM_CAP_XSAVE2's answer, else 4096 with KVM_CAP_XSAVE, else
 *                   0 (no XSAVE ioctls)
 * @param xsave2     KVM_GET_XSAVE2 exists; it writes {@code xsaveBytes}, where KVM_GET_XSAVE writes 4096 only
 * @param xcrs       KVM_CAP_XCRS
 * @param vcpuEvents KVM_CAP_VCPU_EVENTS
 * @param tscKhz     KVM_CAP_GET_TSC_KHZ
 */
record VcpuStateSupport(int xsaveBytes, boolean xsave2, boolean xcrs, boolean vcpuEvents, boolean tscKhz) {

    static VcpuStateSupport ask(ToIntFunction<KvmCapability> checkExtension) {
        int xsave2Bytes = checkExtension.applyAsInt(KvmCapability.XSAVE2);
        int xsaveBytes = xsave2Bytes > 0 ? xsave2Bytes
                : checkExtension.applyAsInt(KvmCapability.XSAVE) > 0 ? KvmXsave.SIZE : 0;
        return new VcpuStateSupport(xsaveBytes, xsave2Bytes > 0, checkExtension.applyAsInt(KvmCapability.XCRS) > 0,
                checkExtension.applyAsInt(KvmCapability.VCPU_EVENTS) > 0,
                checkExtension.applyAsInt(KvmCapability.GET_TSC_KHZ) > 0);
    }
}

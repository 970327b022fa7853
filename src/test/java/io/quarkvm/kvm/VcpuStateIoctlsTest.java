package io.quarkvm.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The vCPU state a migration carries beyond registers, on a real KVM vCPU: each of XSAVE, XCRs, vCPU events and the
 * TSC rate set through the binding reads back as set, and what KVM refuses is refused.
 */
class VcpuStateIoctlsTest {

    /** CPUID leaf 0xD sub-leaf 0, EAX: the XCR0 bits KVM supports for a guest. */
    private static final int LEAF_XSAVE = 0xD;
    /** A value of MXCSR other than the default 0x1F80: rounding toward -infinity. */
    private static final int MXCSR_ROUND_DOWN = 0x3F80;

    @Test
    void anXsaveAreaWithAvxStateReadsBackAsSetAndItsLegacyAreaIsWhatGetFpuReads() {
        try (Kvm kvm = KvmAvailability.openOrSkip(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(0)) {
            vcpu.setCpuid2(kvm.supportedCpuid());
            byte[] region = vcpu.getXsave().orElseThrow().region();
            assertThat(region).hasSize(kvm.checkExtension(KvmCapability.XSAVE2));
            byte[] xmm3 = filled(16, 0x33);
            byte[] ymm5Upper = filled(16, 0xA5);
            System.arraycopy(xmm3, 0, region, 160 + 3 * 16, 16);
            System.arraycopy(ymm5Upper, 0, region, KvmXsave.AVX_UPPER_HALVES + 5 * 16, 16);
            region[KvmXsave.XSTATE_BV] = (byte) (KvmXsave.X87 | KvmXsave.SSE | KvmXsave.AVX);
            ByteBuffer.wrap(region).order(ByteOrder.LITTLE_ENDIAN).putInt(KvmXsave.MXCSR, MXCSR_ROUND_DOWN);

            vcpu.setXsave(new KvmXsave(region));
            KvmXsave back = vcpu.getXsave().orElseThrow();

            assertThat(back.xstateBv() & KvmXsave.AVX).as("XSTATE_BV keeps the AVX component").isNotZero();
            byte[] backRegion = back.region();
            assertThat(Arrays.copyOfRange(backRegion, KvmXsave.AVX_UPPER_HALVES + 5 * 16,
                    KvmXsave.AVX_UPPER_HALVES + 6 * 16)).as("upper half of YMM5").isEqualTo(ymm5Upper);
            assertThat(back.legacyState().mxcsr).as("MXCSR").isEqualTo(MXCSR_ROUND_DOWN);
            // KVM_GET_FPU has everything else of the legacy area; its mxcsr stays 0 (kvm_arch_vcpu_ioctl_get_fpu
            // copies none, and KVM_SET_FPU ignores it): only the XSAVE area carries MXCSR.
            assertThat(back.legacyState()).usingRecursiveComparison().ignoringFields("mxcsr")
                    .isEqualTo(vcpu.getFpu());
            assertThat(vcpu.getFpu().mxcsr).as("MXCSR through KVM_GET_FPU").isZero();
            assertThat(Arrays.copyOfRange(vcpu.getFpu().xmm, 3 * 16, 4 * 16)).as("XMM3 through KVM_GET_FPU")
                    .isEqualTo(xmm3);
        }
    }

    @Test
    void anXsaveAreaLongerThanTheVcpusIsRefusedWhenItsTailHoldsState() {
        try (Kvm kvm = KvmAvailability.openOrSkip(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(0)) {
            byte[] region = Arrays.copyOf(vcpu.getXsave().orElseThrow().region(), 2 * KvmXsave.SIZE
                    + kvm.checkExtension(KvmCapability.XSAVE2));
            vcpu.setXsave(new KvmXsave(region)); // an all-zero tail is no state: accepted
            region[region.length - 1] = 1;
            assertThatThrownBy(() -> vcpu.setXsave(new KvmXsave(region)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("beyond the");
        }
    }

    @Test
    void xcr0ReadsBackAsSetWithinWhatKvmSupports() {
        try (Kvm kvm = KvmAvailability.openOrSkip(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(0)) {
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            vcpu.setCpuid2(cpuid);
            long supported = cpuid.stream().filter(entry -> entry.function() == LEAF_XSAVE && entry.index() == 0)
                    .mapToLong(entry -> Integer.toUnsignedLong(entry.eax())).findFirst().orElse(KvmXsave.X87);
            long xcr0 = supported & (KvmXsave.X87 | KvmXsave.SSE | KvmXsave.AVX);
            assertThat(vcpu.getXcrs().orElseThrow()).as("a new vCPU's XCR0 is x87 only")
                    .containsExactly(new XcrEntry(XcrEntry.XCR0, KvmXsave.X87));

            vcpu.setXcrs(List.of(new XcrEntry(XcrEntry.XCR0, xcr0)));

            assertThat(vcpu.getXcrs().orElseThrow()).containsExactly(new XcrEntry(XcrEntry.XCR0, xcr0));
            System.out.printf("VcpuStateIoctlsTest: KVM supports XCR0 0x%x for a guest; set and read back 0x%x%n",
                    supported, xcr0);
            assertThatThrownBy(() -> vcpu.setXcrs(List.of(new XcrEntry(XcrEntry.XCR0, KvmXsave.SSE))))
                    .as("XCR0 without x87 is invalid").isInstanceOf(KvmException.class);
        }
    }

    @Test
    void pendingEventsReadBackAsSet() {
        try (Kvm kvm = KvmAvailability.openOrSkip(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(0)) {
            KvmVcpuEvents events = vcpu.getVcpuEvents().orElseThrow();
            assertThat(events.nonePending()).as("a new vCPU has nothing pending").isTrue();
            assertThat(events.flags & (KvmVcpuEvents.VALID_NMI_PENDING | KvmVcpuEvents.VALID_SHADOW))
                    .isEqualTo(KvmVcpuEvents.VALID_NMI_PENDING | KvmVcpuEvents.VALID_SHADOW);
            events.interruptShadow = 1; // KVM_X86_SHADOW_INT_MOV_SS
            events.nmiPending = 1;
            events.nmiMasked = 1;

            vcpu.setVcpuEvents(events);

            KvmVcpuEvents back = vcpu.getVcpuEvents().orElseThrow();
            assertThat(back).usingRecursiveComparison().isEqualTo(events);
            assertThat(back.nonePending()).isFalse();
        }
    }

    @Test
    void theTscRateReadsBackAndASlowerOneNeedsTscScaling() {
        try (Kvm kvm = KvmAvailability.openOrSkip(); VmFd vm = kvm.createVm(); VcpuFd vcpu = vm.createVcpu(0)) {
            int khz = vcpu.getTscKhz().orElseThrow();
            assertThat(khz).isPositive();
            vcpu.setTscKhz(khz);
            assertThat(vcpu.getTscKhz()).hasValue(khz);
            boolean scaling = kvm.checkExtension(KvmCapability.TSC_CONTROL) > 0;
            System.out.printf("VcpuStateIoctlsTest: guest TSC at %d kHz, TSC scaling %s%n", khz,
                    scaling ? "available" : "not available (KVM_CAP_TSC_CONTROL 0)");
            if (scaling) {
                vcpu.setTscKhz(khz / 2);
                assertThat(vcpu.getTscKhz()).hasValue(khz / 2);
            } else {
                assertThatThrownBy(() -> vcpu.setTscKhz(khz / 2)).isInstanceOf(KvmException.class)
                        .hasMessageContaining("EINVAL");
            }
        }
    }

    private static byte[] filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }
}

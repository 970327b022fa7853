package io.quarkvm.kvm;

import io.quarkvm.CCompiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compares every struct size, field offset, ioctl number and capability number the Java side assumes with what gcc
 * computes from this machine's kernel headers. The C program is generated from the Java tables, so nothing can be
 * left out of the comparison.
 */
class KvmLayoutTest {

    private static final List<StructLayout> LAYOUTS = List.of(
            KvmRun.LAYOUT, KvmRegs.LAYOUT, KvmSegment.LAYOUT, KvmDtable.LAYOUT, KvmSregs.LAYOUT,
            KvmMsrs.LAYOUT, KvmMsrs.ENTRY_LAYOUT, KvmCpuid2.LAYOUT, KvmCpuid2.ENTRY_LAYOUT,
            KvmUserspaceMemoryRegion.LAYOUT, KvmEnableCap.LAYOUT, KvmMsrFilter.LAYOUT, KvmMsrFilter.RANGE_LAYOUT,
            KvmMpState.LAYOUT, KvmSignalMask.LAYOUT, KvmDirtyLog.LAYOUT, KvmFpu.LAYOUT, KvmXsave.LAYOUT,
            KvmXsave.AREA_LAYOUT, KvmXcrs.LAYOUT, KvmXcrs.ENTRY_LAYOUT, KvmVcpuEvents.LAYOUT);

    @Test
    void javaLayoutsAndNumbersMatchTheKernelHeaders(@TempDir Path dir) throws Exception {
        assumeTrue(CCompiler.onPath("gcc"), "gcc missing: cannot compile the layout probe against linux/kvm.h");
        Map<String, Long> expected = new HashMap<>();
        StringBuilder c = new StringBuilder("""
                #include <stdio.h>
                #include <stddef.h>
                #include <linux/kvm.h>
                #include <asm/sigcontext.h>
                int main(void) {
                """);
        for (StructLayout layout : LAYOUTS) {
            if (layout.size() >= 0) {
                print(c, "sizeof " + layout.cType(), "sizeof(" + layout.cType() + ")");
                expected.put("sizeof " + layout.cType(), (long) layout.size());
            }
            layout.offsets().forEach((member, offset) -> {
                String key = "offsetof " + layout.cType() + " " + member;
                print(c, key, "offsetof(" + layout.cType() + ", " + member + ")");
                expected.put(key, (long) offset);
            });
        }
        KvmIoctls.all().forEach((name, number) -> {
            print(c, name, name);
            expected.put(name, number);
        });
        for (KvmCapability capability : KvmCapability.values()) {
            print(c, capability.cName(), capability.cName());
            expected.put(capability.cName(), (long) capability.number());
        }
        for (String exitReason : List.of("KVM_EXIT_UNKNOWN", "KVM_EXIT_IO", "KVM_EXIT_HLT", "KVM_EXIT_MMIO",
                "KVM_EXIT_SHUTDOWN", "KVM_EXIT_FAIL_ENTRY", "KVM_EXIT_INTR", "KVM_EXIT_INTERNAL_ERROR",
                "KVM_EXIT_X86_RDMSR", "KVM_EXIT_X86_WRMSR")) {
            print(c, exitReason, exitReason);
        }
        expected.putAll(Map.of("KVM_EXIT_UNKNOWN", (long) KvmRun.EXIT_UNKNOWN, "KVM_EXIT_IO", (long) KvmRun.EXIT_IO,
                "KVM_EXIT_HLT", (long) KvmRun.EXIT_HLT, "KVM_EXIT_MMIO", (long) KvmRun.EXIT_MMIO,
                "KVM_EXIT_SHUTDOWN", (long) KvmRun.EXIT_SHUTDOWN, "KVM_EXIT_FAIL_ENTRY", (long) KvmRun.EXIT_FAIL_ENTRY,
                "KVM_EXIT_INTR", (long) KvmRun.EXIT_INTR, "KVM_EXIT_INTERNAL_ERROR", (long) KvmRun.EXIT_INTERNAL_ERROR,
                "KVM_EXIT_X86_RDMSR", (long) KvmRun.EXIT_X86_RDMSR, "KVM_EXIT_X86_WRMSR", (long) KvmRun.EXIT_X86_WRMSR));
        expected.put("KVM_MEM_LOG_DIRTY_PAGES", (long) KvmUserspaceMemoryRegion.LOG_DIRTY_PAGES);
        print(c, "KVM_MEM_LOG_DIRTY_PAGES", "KVM_MEM_LOG_DIRTY_PAGES");
        for (String constant : List.of("KVM_MSR_EXIT_REASON_FILTER", "KVM_MSR_EXIT_REASON_UNKNOWN",
                "KVM_MSR_EXIT_REASON_INVAL", "KVM_MSR_FILTER_READ", "KVM_MSR_FILTER_WRITE", "KVM_MSR_FILTER_MAX_RANGES",
                "KVM_MP_STATE_RUNNABLE", "KVM_MP_STATE_UNINITIALIZED", "KVM_MP_STATE_INIT_RECEIVED", "KVM_MP_STATE_HALTED",
                "KVM_API_VERSION")) {
            print(c, constant, constant);
        }
        expected.putAll(Map.of("KVM_MSR_EXIT_REASON_FILTER", VmFd.MSR_EXIT_REASON_FILTER,
                "KVM_MSR_EXIT_REASON_UNKNOWN", VmFd.MSR_EXIT_REASON_UNKNOWN,
                "KVM_MSR_EXIT_REASON_INVAL", VmFd.MSR_EXIT_REASON_INVAL,
                "KVM_MSR_FILTER_READ", (long) KvmMsrFilter.READ, "KVM_MSR_FILTER_WRITE", (long) KvmMsrFilter.WRITE,
                "KVM_MSR_FILTER_MAX_RANGES", (long) KvmMsrFilter.MAX_RANGES,
                "KVM_MP_STATE_RUNNABLE", (long) KvmMpState.RUNNABLE, "KVM_MP_STATE_HALTED", (long) KvmMpState.HALTED,
                "KVM_API_VERSION", (long) Kvm.API_VERSION));
        expected.put("KVM_MP_STATE_UNINITIALIZED", (long) KvmMpState.UNINITIALIZED);
        expected.put("KVM_MP_STATE_INIT_RECEIVED", (long) KvmMpState.INIT_RECEIVED);
        Map<String, Long> vcpuStateConstants = Map.of("KVM_MAX_XCRS", (long) KvmXcrs.MAX_XCRS,
                "KVM_VCPUEVENT_VALID_NMI_PENDING", (long) KvmVcpuEvents.VALID_NMI_PENDING,
                "KVM_VCPUEVENT_VALID_SIPI_VECTOR", (long) KvmVcpuEvents.VALID_SIPI_VECTOR,
                "KVM_VCPUEVENT_VALID_SHADOW", (long) KvmVcpuEvents.VALID_SHADOW,
                "KVM_VCPUEVENT_VALID_SMM", (long) KvmVcpuEvents.VALID_SMM,
                "KVM_VCPUEVENT_VALID_PAYLOAD", (long) KvmVcpuEvents.VALID_PAYLOAD,
                "KVM_VCPUEVENT_VALID_TRIPLE_FAULT", (long) KvmVcpuEvents.VALID_TRIPLE_FAULT);
        vcpuStateConstants.forEach((name, value) -> {
            print(c, name, name);
            expected.put(name, value);
        });
        c.append("    return 0;\n}\n");

        Map<String, Long> actual = new HashMap<>();
        CCompiler.printedValues(dir, "kvm_layout", c)
                .forEach((key, value) -> actual.put(key, Long.parseUnsignedLong(value)));
        assertEquals(expected.keySet(), actual.keySet(), "the probe printed something else than asked");
        expected.forEach((key, value) -> assertEquals(Long.toHexString(actual.get(key)), Long.toHexString(value),
                key + " (hex): Java differs from the kernel headers"));
        System.out.println("KvmLayoutTest: " + expected.size() + " sizes, offsets and numbers match gcc");
    }

    private static void print(StringBuilder c, String key, String expression) {
        c.append("    printf(\"%s=%llu\\n\", \"").append(key).append("\", (unsigned long long) (")
                .append(expression).append("));\n");
    }
}

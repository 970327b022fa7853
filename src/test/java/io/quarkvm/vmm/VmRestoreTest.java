package io.quarkvm.vmm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.Topology;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VpIndexPolicy;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.CpuidEntry;
import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.HypervisorVcpu;
import io.quarkvm.kvm.KvmCapability;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmXsave;
import io.quarkvm.kvm.MsrEntry;
import io.quarkvm.kvm.XcrEntry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A running probe VM, one of its vCPUs hot-plugged, is snapshotted, stopped, carried through the binary encoding and
 * restored on another hypervisor handle (as another node would), twice in a row: the probe carries on where it was,
 * on the identities it first saw, without ever booting again; state it never touches arrives as it was set on the
 * first VM: XMM7 and MXCSR (which on KVM only the XSAVE area carries), LSTAR, and where the hypervisor keeps them,
 * XCR0 with AVX enabled and the upper half of YMM7.
 */
class VmRestoreTest {

    private static final Topology THREE = new Topology(1, 1, 3, 1);
    private static final List<VcpuIdentity> IDENTITIES =
            VirtualMachineIdentityTest.boot(THREE, VpIndexPolicy.SLOT_INDEX, 3);
    private static final VmSpec SPEC = VmSpec.probe(8, THREE, IDENTITIES.subList(0, 2), true,
            VpIndexProvider.USERSPACE_MSR).withKnownVcpus(IDENTITIES, VpIndexPolicy.SLOT_INDEX);
    /** Enough turns for a few re-checks of the identity (one every {@link GuestProbe#RECHECK_INTERVAL}). */
    private static final long BEATS = 3L * GuestProbe.RECHECK_INTERVAL;
    private static final long WAIT_SECONDS = 20;

    @Test
    void aRestoredVmCarriesOnWhereItsSnapshotWasTwiceInARow() throws Exception {
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open();
             Hypervisor nodeC = TestHypervisors.open()) {
            ProbeReports reportsA = new ProbeReports(IDENTITIES.size());
            VirtualMachine vmA = VirtualMachine.start(nodeA, SPEC, reportsA);
            Map<Integer, GuestIdentity> firstSeen;
            byte[] streamAB;
            Map<Integer, Long> beatsAB;
            try {
                vmA.hotplug(IDENTITIES.get(2));
                reportsA.awaitAllReported();
                awaitBeats(vmA, Map.of(0, BEATS, 1, BEATS, 2, BEATS));
                firstSeen = firstSeen(vmA);
                assertIdentitiesHold(vmA);
                markVcpuState(vmA);

                long started = System.nanoTime();
                VmSnapshot snapshot = VmSnapshot.capture(vmA);
                long captureMicros = (System.nanoTime() - started) / 1000;
                beatsAB = beats(vmA);
                streamAB = VmSnapshotEncodingTest.encode(snapshot);
                assertThat(snapshot.vcpus()).extracting(VcpuState::identity).containsExactlyElementsOf(IDENTITIES);
                Thread.sleep(50);
                assertThat(beats(vmA)).as("the snapshot leaves the VM paused").isEqualTo(beatsAB);
                System.out.printf("VmRestoreTest: capture of %d vCPUs and %d MiB took %d µs; stream %d bytes "
                                + "(%d of memory in %d ranges, zero pages skipped) for %d bytes of RAM%n",
                        snapshot.vcpus().size(), snapshot.memoryBytes() >> 20, captureMicros, streamAB.length,
                        snapshot.memoryBytesCarried(), snapshot.memory().size(), snapshot.memoryBytes());
            } finally {
                vmA.stop();
            }

            ProbeReports reportsB = new ProbeReports(0);
            VirtualMachine vmB = restoreTimed(nodeB, streamAB, reportsB);
            byte[] streamBC;
            Map<Integer, Long> beatsBC;
            try {
                assertCarriesOn(vmB, reportsB, beatsAB, firstSeen);
                VmSnapshot snapshot = VmSnapshot.capture(vmB);
                beatsBC = beats(vmB);
                streamBC = VmSnapshotEncodingTest.encode(snapshot);
            } finally {
                vmB.stop();
            }

            ProbeReports reportsC = new ProbeReports(0);
            try (VirtualMachine vmC = restoreTimed(nodeC, streamBC, reportsC)) {
                assertCarriesOn(vmC, reportsC, beatsBC, firstSeen);
                assertVcpuStateMarked(vmC);
            }
        }
    }

    @Test
    void aSnapshotWhoseVcpuIdentityIsNotThePersistedOneIsRefusedBeforeAnythingRuns() throws Exception {
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open()) {
            VmSnapshot snapshot = snapshotOfBootedProbe(nodeA);
            List<VcpuState> altered = new ArrayList<>(snapshot.vcpus());
            VcpuState first = altered.get(0);
            VcpuIdentity wrong = new VcpuIdentity(first.identity().slot(), first.identity().cpuIndex(),
                    first.identity().apicId(), first.identity().vpIndex() + 7);
            altered.set(0, new VcpuState(wrong, first.regs(), first.sregs(), first.fpu(), first.xsave(),
                    first.xcrs(), first.events(), first.msrs(), first.mpState(), first.tscKhz()));
            VmSnapshot forged = new VmSnapshot(snapshot.memoryBytes(), snapshot.memory(), altered);

            ProbeReports reportsB = new ProbeReports(0);
            assertThatThrownBy(() -> VirtualMachine.restore(nodeB, SPEC, forged, reportsB))
                    .isInstanceOf(IdentityMismatchException.class)
                    .hasMessageContaining("differs from its persisted identity");
            assertThatThrownBy(() -> VirtualMachine.restore(nodeB, SPEC.withPlugged(IDENTITIES.subList(0, 2)),
                    new VmSnapshot(16L << 20, snapshot.memory(), snapshot.vcpus()), reportsB))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bytes of memory");
            assertThat(reportsB.crashes).isEmpty();
        }
    }

    /** The snapshot of a probe VM with its two boot vCPUs, taken once both have reported; the VM is stopped. */
    private static VmSnapshot snapshotOfBootedProbe(Hypervisor node) throws InterruptedException {
        ProbeReports reports = new ProbeReports(2);
        try (VirtualMachine vm = VirtualMachine.start(node, SPEC, reports)) {
            reports.awaitAllReported();
            return VmSnapshot.capture(vm);
        }
    }

    /**
     * A guest whose TSC ran at half this node's rate: KVM scales the TSC where it can (KVM_CAP_TSC_CONTROL); where
     * it cannot (as here, and on the emulated backend, whose guest reads the host's TSC) the restore fails and stops
     * the VM rather than let the guest's clocks run at twice their speed.
     */
    @Test
    void aSnapshotWhoseTscRanSlowerIsRestoredAtItsRateOrRefused() throws Exception {
        try (Hypervisor nodeA = TestHypervisors.open(); Hypervisor nodeB = TestHypervisors.open()) {
            VmSnapshot snapshot = snapshotOfBootedProbe(nodeA);
            int slower = snapshot.vcpus().get(0).tscKhz().orElse(2_000_000) / 2;
            List<VcpuState> slowed = snapshot.vcpus().stream().map(state -> new VcpuState(state.identity(),
                    state.regs(), state.sregs(), state.fpu(), state.xsave(), state.xcrs(), state.events(),
                    state.msrs(), state.mpState(), OptionalInt.of(slower))).toList();
            VmSnapshot forged = new VmSnapshot(snapshot.memoryBytes(), snapshot.memory(), slowed);
            VmSpec spec = SPEC.withPlugged(IDENTITIES.subList(0, 2));

            if (nodeB.checkExtension(KvmCapability.TSC_CONTROL) > 0) {
                try (VirtualMachine vmB = VirtualMachine.restore(nodeB, spec, forged, new ProbeReports(0))) {
                    assertThat(VmSnapshot.await(vmB.onVcpuThread(0, HypervisorVcpu::getTscKhz), "read TSC rate"))
                            .hasValue(slower);
                }
            } else {
                assertThatThrownBy(() -> VirtualMachine.restore(nodeB, spec, forged, new ProbeReports(0)))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("cannot run it at " + slower + " kHz");
            }
        }
    }

    /**
     * A guest that sets its own SSE state at boot (XMM1 all ones, MXCSR rounding down) and then every turn reads it
     * back, counting the turns that found both as set, keeps it across a restore. On the emulated backend: under
     * this host's PVM kernel every x87, SSE or AVX instruction of a guest in supervisor mode (all guests here) ends
     * in KVM_EXIT_INTERNAL_ERROR (KVM's instruction emulator is handed it and cannot emulate it), so on KVM the
     * vector state is set from the host instead, in {@link #aRestoredVmCarriesOnWhereItsSnapshotWasTwiceInARow}.
     */
    @Test
    void aGuestKeepsTheSseStateItSetItselfAcrossARestoreOnTheEmulatedBackend() throws Exception {
        try (Hypervisor nodeA = TestHypervisors.emulatedOrSkip(); Hypervisor nodeB = TestHypervisors.emulatedOrSkip()) {
            List<VcpuIdentity> one = VirtualMachineIdentityTest.boot(ONE, VpIndexPolicy.SLOT_INDEX, 1);
            VmSpec spec = new VmSpec(4, ONE, one, false, VpIndexProvider.USERSPACE_MSR, sseGuest());
            byte[] stream;
            long turnsAtSnapshot;
            try (VirtualMachine vmA = VirtualMachine.start(nodeA, spec, new ProbeReports(0))) {
                awaitBeats(vmA, Map.of(0, 5L));
                VmSnapshot snapshot = VmSnapshot.capture(vmA);
                turnsAtSnapshot = vmA.heartbeats(0);
                assertThat(turnsFindingSseState(vmA)).as("turns that found XMM1 and MXCSR as set, before")
                        .isEqualTo(turnsAtSnapshot);
                stream = VmSnapshotEncodingTest.encode(snapshot);
            }
            ProbeReports reportsB = new ProbeReports(0);
            try (VirtualMachine vmB = VirtualMachine.restore(nodeB, spec,
                    VmSnapshot.read(new ByteArrayInputStream(stream)), reportsB)) {
                awaitBeats(vmB, Map.of(0, turnsAtSnapshot + 5));
                vmB.pause();
                assertThat(reportsB.crashes).isEmpty();
                assertThat(turnsFindingSseState(vmB)).as("turns that found XMM1 and MXCSR as set, after")
                        .isEqualTo(vmB.heartbeats(0));
            }
        }
    }

    private static final Topology ONE = new Topology(1, 1, 1, 1);
    /** Where the SSE guest keeps its numbers, in cpu_index 0's record after the probe's fields. */
    private static final long TURNS_FINDING_SSE_STATE = GuestLayout.recordOf(0) + 72;
    private static final long MXCSR_TO_LOAD = GuestLayout.recordOf(0) + 80;
    private static final long MXCSR_STORED = GuestLayout.recordOf(0) + 88;

    private static long turnsFindingSseState(VirtualMachine vm) {
        return vm.memory().readLong(TURNS_FINDING_SSE_STATE);
    }

    /** See {@link #aGuestKeepsTheSseStateItSetItselfAcrossARestoreOnTheEmulatedBackend}; its turns are heartbeats. */
    private static GuestProgram sseGuest() {
        ByteBuffer code = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
        code.put(bytes(0x0F, 0x20, 0xE0));                                   // mov rax, cr4
        code.put(bytes(0x48, 0x0D)).putInt(1 << 9);                          // or rax, OSFXSR
        code.put(bytes(0x0F, 0x22, 0xE0));                                   // mov cr4, rax
        code.put(bytes(0x66, 0x0F, 0x74, 0xC9));                             // pcmpeqb xmm1, xmm1: all ones
        code.put(bytes(0xC7, 0x04, 0x25)).putInt((int) MXCSR_TO_LOAD).putInt(MXCSR_ROUND_DOWN); // mov dword [], imm
        code.put(bytes(0x0F, 0xAE, 0x14, 0x25)).putInt((int) MXCSR_TO_LOAD); // ldmxcsr []
        int turn = code.position();
        code.put(bytes(0x66, 0x48, 0x0F, 0x7E, 0xC8));                       // movq rax, xmm1
        code.put(bytes(0x48, 0x83, 0xF8, 0xFF));                             // cmp rax, -1
        int xmmDiffers = jumpIfNotEqual(code);
        code.put(bytes(0x0F, 0xAE, 0x1C, 0x25)).putInt((int) MXCSR_STORED);  // stmxcsr []
        code.put(bytes(0x81, 0x3C, 0x25)).putInt((int) MXCSR_STORED).putInt(MXCSR_ROUND_DOWN); // cmp dword [], imm
        int mxcsrDiffers = jumpIfNotEqual(code);
        code.put(bytes(0x48, 0xFF, 0x04, 0x25)).putInt((int) TURNS_FINDING_SSE_STATE); // inc qword []
        bindHere(code, xmmDiffers);
        bindHere(code, mxcsrDiffers);
        code.put(bytes(0x48, 0xFF, 0x04, 0x25)).putInt((int) (GuestLayout.recordOf(0) + GuestLayout.HEARTBEAT));
        code.put((byte) 0xF4);                                               // hlt
        code.put((byte) 0xEB).put((byte) (turn - (code.position() + 1)));    // jmp turn
        return new GuestProgram("sse-state", Arrays.copyOf(code.array(), code.position()), OptionalInt.empty());
    }

    /** jne rel8, bound later by {@link #bindHere}; returns where its displacement is. */
    private static int jumpIfNotEqual(ByteBuffer code) {
        code.put((byte) 0x75).put((byte) 0);
        return code.position() - 1;
    }

    private static void bindHere(ByteBuffer code, int displacementAt) {
        code.put(displacementAt, (byte) (code.position() - (displacementAt + 1)));
    }

    private static byte[] bytes(int... values) {
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) values[i];
        }
        return bytes;
    }

    /** LSTAR: a 64-bit kernel's SYSCALL entry, which the probe never touches, so it must arrive as set. */
    private static final int MSR_LSTAR = 0xC0000082;
    /** MXCSR rounding toward -infinity, not the default 0x1F80. */
    private static final int MXCSR_ROUND_DOWN = 0x3F80;
    private static final long XCR0_WITH_AVX = KvmXsave.X87 | KvmXsave.SSE | KvmXsave.AVX;
    private static final int XMM7 = 160 + 7 * 16;
    private static final int YMM7_UPPER_HALF = KvmXsave.AVX_UPPER_HALVES + 7 * 16;
    private static final int LEAF_XSAVE = 0xD;

    /**
     * Gives each vCPU an XMM7, MXCSR and LSTAR of its own, and where the hypervisor has XCR0 and lets it enable AVX
     * (CPUID 0xD.0 EAX), XCR0 with AVX and an upper half of YMM7 of its own: none of which the probe touches. The
     * vector state goes in through the XSAVE area, with its XSTATE_BV bits: KVM_SET_FPU writes XMM7 where the
     * guest does not see it while XSTATE_BV says SSE is in its initial state, as on a new vCPU.
     */
    private static void markVcpuState(VirtualMachine vm) {
        for (VcpuIdentity identity : IDENTITIES) {
            VmSnapshot.await(vm.onVcpuThread(identity.apicId(), vcpu -> {
                boolean avx = avxAllowed(vcpu);
                if (avx) {
                    vcpu.setXcrs(List.of(new XcrEntry(XcrEntry.XCR0, XCR0_WITH_AVX)));
                }
                byte[] region = vcpu.getXsave().orElseThrow().region();
                ByteBuffer area = ByteBuffer.wrap(region).order(ByteOrder.LITTLE_ENDIAN);
                Arrays.fill(region, XMM7, XMM7 + 16, mark(identity));
                area.putInt(KvmXsave.MXCSR, MXCSR_ROUND_DOWN);
                long components = KvmXsave.X87 | KvmXsave.SSE;
                if (avx) {
                    Arrays.fill(region, YMM7_UPPER_HALF, YMM7_UPPER_HALF + 16, (byte) ~mark(identity));
                    components |= KvmXsave.AVX;
                }
                area.putLong(KvmXsave.XSTATE_BV, area.getLong(KvmXsave.XSTATE_BV) | components);
                vcpu.setXsave(new KvmXsave(region));
                if (identity.cpuIndex() == 0) {
                    System.out.println("VmRestoreTest: marked XMM7, MXCSR, LSTAR" + (avx ? ", XCR0 0x"
                            + Long.toHexString(XCR0_WITH_AVX) + " and YMM7's upper half" : "") + "; guest CPUID "
                            + guestXsaveFeatures(vcpu));
                }
                return vcpu.setMsrs(List.of(new MsrEntry(MSR_LSTAR, lstarOf(identity))));
            }), "mark a vCPU");
        }
    }

    private static void assertVcpuStateMarked(VirtualMachine vm) {
        for (VcpuIdentity identity : IDENTITIES) {
            byte[] expected = new byte[KvmFpu.REGISTER_BYTES];
            Arrays.fill(expected, mark(identity));
            KvmXsave xsave = VmSnapshot.await(vm.onVcpuThread(identity.apicId(),
                    vcpu -> vcpu.getXsave().orElseThrow()), "read XSAVE");
            assertThat(Arrays.copyOfRange(xsave.region(), XMM7, XMM7 + 16))
                    .as("XMM7 of %s after two migrations", identity).isEqualTo(expected);
            KvmFpu fpu = VmSnapshot.await(vm.onVcpuThread(identity.apicId(), HypervisorVcpu::getFpu), "read FPU");
            assertThat(Arrays.copyOfRange(fpu.xmm, 7 * KvmFpu.REGISTER_BYTES, 8 * KvmFpu.REGISTER_BYTES))
                    .as("XMM7 of %s through KVM_GET_FPU", identity).isEqualTo(expected);
            assertThat(xsave.legacyState().mxcsr).as("MXCSR of %s", identity).isEqualTo(MXCSR_ROUND_DOWN);
            if (VmSnapshot.await(vm.onVcpuThread(identity.apicId(), VmRestoreTest::avxAllowed), "read CPUID")) {
                assertThat(VmSnapshot.await(vm.onVcpuThread(identity.apicId(), HypervisorVcpu::getXcrs), "read XCRs"))
                        .as("XCR0 of %s", identity).hasValue(List.of(new XcrEntry(XcrEntry.XCR0, XCR0_WITH_AVX)));
                byte[] upper = new byte[16];
                Arrays.fill(upper, (byte) ~mark(identity));
                assertThat(Arrays.copyOfRange(xsave.region(), YMM7_UPPER_HALF, YMM7_UPPER_HALF + 16))
                        .as("upper half of YMM7 of %s", identity).isEqualTo(upper);
                assertThat(xsave.xstateBv() & KvmXsave.AVX).as("XSTATE_BV of %s has AVX", identity).isNotZero();
            }
            List<MsrEntry> lstar = VmSnapshot.await(vm.onVcpuThread(identity.apicId(),
                    vcpu -> vcpu.getMsrs(MSR_LSTAR)), "read LSTAR");
            assertThat(lstar).as("LSTAR of %s", identity).containsExactly(new MsrEntry(MSR_LSTAR, lstarOf(identity)));
        }
    }

    /** The vCPU has XCRs, and its CPUID leaf 0xD lets XCR0 enable AVX. */
    private static boolean avxAllowed(HypervisorVcpu vcpu) {
        return vcpu.getXcrs().isPresent() && vcpu.getCpuid2().stream()
                .anyMatch(entry -> entry.function() == LEAF_XSAVE && entry.index() == 0
                        && (entry.eax() & KvmXsave.AVX) != 0);
    }

    /** CPUID.1:ECX XSAVE (26), OSXSAVE (27), AVX (28) and the XCR0 bits leaf 0xD.0 allows, as the vCPU has them. */
    private static String guestXsaveFeatures(HypervisorVcpu vcpu) {
        int ecx = vcpu.getCpuid2().stream().filter(entry -> entry.function() == 1).mapToInt(CpuidEntry::ecx)
                .findFirst().orElse(0);
        int xcr0Allowed = vcpu.getCpuid2().stream().filter(entry -> entry.function() == LEAF_XSAVE
                && entry.index() == 0).mapToInt(CpuidEntry::eax).findFirst().orElse(0);
        return String.format("1:ECX 0x%08x (XSAVE %d, OSXSAVE %d, AVX %d); 0xD.0:EAX (XCR0 allowed) 0x%x", ecx,
                ecx >>> 26 & 1, ecx >>> 27 & 1, ecx >>> 28 & 1, xcr0Allowed);
    }

    private static byte mark(VcpuIdentity identity) {
        return (byte) (0x5A + identity.cpuIndex());
    }

    private static long lstarOf(VcpuIdentity identity) {
        return 0xFFFF_FFFF_8100_0000L + identity.cpuIndex() * 0x1000L;
    }

    private static VirtualMachine restoreTimed(Hypervisor node, byte[] stream, ProbeReports reports)
            throws IOException {
        long started = System.nanoTime();
        VmSnapshot snapshot = VmSnapshot.read(new ByteArrayInputStream(stream));
        long decoded = System.nanoTime();
        VirtualMachine vm = VirtualMachine.restore(node, SPEC, snapshot, reports);
        long restored = System.nanoTime();
        System.out.printf("VmRestoreTest: decoding %d bytes took %d µs, restore into a new VM %d µs%n",
                stream.length, (decoded - started) / 1000, (restored - decoded) / 1000);
        return vm;
    }

    /**
     * Right after the restore each heartbeat is where the snapshot left it (not back at zero), then grows by
     * several re-checks, which read the identity again on the new VM and find the values first seen on the old one.
     */
    private static void assertCarriesOn(VirtualMachine vm, ProbeReports reports, Map<Integer, Long> atSnapshot,
                                        Map<Integer, GuestIdentity> firstSeen) throws InterruptedException {
        assertThat(vm.pluggedVcpus()).containsExactlyElementsOf(IDENTITIES);
        Map<Integer, Long> target = new HashMap<>();
        for (VcpuIdentity identity : IDENTITIES) {
            int cpuIndex = identity.cpuIndex();
            assertThat(vm.heartbeats(cpuIndex)).as("heartbeat of cpu_index %d right after the restore", cpuIndex)
                    .isGreaterThanOrEqualTo(atSnapshot.get(cpuIndex));
            target.put(cpuIndex, atSnapshot.get(cpuIndex) + BEATS);
        }
        awaitBeats(vm, target);
        assertThat(firstSeen(vm)).as("the first-seen values, carried in guest memory").isEqualTo(firstSeen);
        assertIdentitiesHold(vm);
        assertThat(reports.identities).as("the probe did not boot again: no first report").isEmpty();
        assertThat(reports.violations).isEmpty();
        assertThat(reports.crashes).isEmpty();
        assertThat(vm.state()).isEqualTo(VirtualMachine.State.RUNNING);
    }

    /** The probe's own counters: no violation, and its latest re-check read the persisted identity. */
    private static void assertIdentitiesHold(VirtualMachine vm) {
        for (VcpuIdentity identity : IDENTITIES) {
            ProbeRecord record = vm.probeRecord(identity.cpuIndex());
            assertThat(record.violations()).as("violations of %s", identity).isZero();
            GuestIdentity latest = record.latest().orElseThrow();
            assertThat(latest.vpIndex()).as("VP index re-read by %s", identity).isEqualTo(identity.vpIndex());
            assertThat(latest.x2ApicIdLeafB()).as("x2APIC ID re-read by %s", identity).isEqualTo(identity.apicId());
        }
    }

    private static Map<Integer, GuestIdentity> firstSeen(VirtualMachine vm) {
        Map<Integer, GuestIdentity> first = new HashMap<>();
        IDENTITIES.forEach(identity -> first.put(identity.cpuIndex(), vm.probeRecord(identity.cpuIndex()).first()));
        return first;
    }

    private static Map<Integer, Long> beats(VirtualMachine vm) {
        Map<Integer, Long> beats = new HashMap<>();
        IDENTITIES.forEach(identity -> beats.put(identity.cpuIndex(), vm.heartbeats(identity.cpuIndex())));
        return beats;
    }

    private static void awaitBeats(VirtualMachine vm, Map<Integer, Long> atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        for (Map.Entry<Integer, Long> wanted : atLeast.entrySet()) {
            while (vm.heartbeats(wanted.getKey()) < wanted.getValue()) {
                assertThat(System.nanoTime()).as("heartbeat of cpu_index %d reaches %d (at %d)", wanted.getKey(),
                        wanted.getValue(), vm.heartbeats(wanted.getKey())).isLessThan(deadline);
                Thread.sleep(5);
            }
        }
    }
}

package io.quarkvm.vmm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.kvm.KvmDtable;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmMpState;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSegment;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.KvmVcpuEvents;
import io.quarkvm.kvm.KvmXsave;
import io.quarkvm.kvm.MsrEntry;
import io.quarkvm.kvm.XcrEntry;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The snapshot's binary encoding: what it writes reads back equal, and any damage is refused with a reason. */
public class VmSnapshotEncodingTest {

    private static final int VERSION_OFFSET = 8;

    @Test
    void aSnapshotReadsBackEqualToWhatWasWritten() throws IOException {
        VmSnapshot original = sample(new Random(7));

        VmSnapshot decoded = VmSnapshot.read(new ByteArrayInputStream(encode(original)));

        assertThat(decoded).usingRecursiveComparison().isEqualTo(original);
        assertThat(decoded.memory()).isEqualTo(original.memory());
        assertThat(decoded.vcpus().get(1).sregs().interruptBitmap())
                .containsExactly(original.vcpus().get(1).sregs().interruptBitmap());
        assertThat(encode(decoded)).as("the encoding is deterministic").isEqualTo(encode(original));
    }

    @Test
    void twoSnapshotsThatDifferInOneRegisterDoNotCompareEqualAfterTheRoundTrip() throws IOException {
        VmSnapshot original = sample(new Random(7));
        VmSnapshot other = sample(new Random(7));
        other.vcpus().get(0).regs().r13 ^= 1;

        VmSnapshot decoded = VmSnapshot.read(new ByteArrayInputStream(encode(other)));

        assertThat(decoded).usingRecursiveComparison().isNotEqualTo(original);
    }

    @Test
    void everySingleCorruptByteIsRefused() throws IOException {
        byte[] good = encode(sample(new Random(11)));
        for (int offset = 0; offset < good.length; offset++) {
            byte[] bad = good.clone();
            bad[offset] ^= 0x5A;
            int at = offset;
            assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(bad)), "byte %d corrupted", at)
                    .isInstanceOf(SnapshotFormatException.class);
        }
    }

    @Test
    void aCorruptMemoryPageIsReportedAsAChecksumMismatch() throws IOException {
        byte[] bad = encode(sample(new Random(11)));
        bad[bad.length / 3] ^= 1; // inside the memory ranges, which make up most of the stream
        assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(bad)))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("CRC32C mismatch in the memory range");
    }

    @Test
    void everyTruncationIsRefused() throws IOException {
        byte[] good = encode(sample(new Random(13)));
        for (int length = 0; length < good.length; length++) {
            byte[] cut = Arrays.copyOf(good, length);
            int at = length;
            assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(cut)), "cut at %d", at)
                    .isInstanceOf(SnapshotFormatException.class)
                    .hasMessageContaining("truncated");
        }
    }

    @Test
    void theOptionalPartsOfAVcpuStateTravelAndSoDoesTheirAbsence() throws IOException {
        VmSnapshot original = sample(new Random(19));

        VmSnapshot decoded = VmSnapshot.read(new ByteArrayInputStream(encode(original)));

        VcpuState full = decoded.vcpus().get(0);
        assertThat(full.xsave()).isPresent().isEqualTo(original.vcpus().get(0).xsave());
        assertThat(full.xsave().orElseThrow().size()).isEqualTo(XSAVE2_BYTES);
        assertThat(full.xcrs()).isEqualTo(original.vcpus().get(0).xcrs());
        assertThat(full.events().orElseThrow()).usingRecursiveComparison()
                .isEqualTo(original.vcpus().get(0).events().orElseThrow());
        assertThat(full.tscKhz()).isEqualTo(original.vcpus().get(0).tscKhz());
        VcpuState bare = decoded.vcpus().get(1);
        assertThat(bare.xsave()).isEmpty();
        assertThat(bare.xcrs()).isEmpty();
        assertThat(bare.events()).isEmpty();
        assertThat(bare.tscKhz()).isEmpty();
    }

    /** A vCPU section whose CRC is right but whose content is not a vCPU state: the parser itself must refuse it. */
    @Test
    void aResealedVcpuSectionThatIsShortLongOrMalformedIsRefused() throws IOException {
        byte[] good = encode(sample(new Random(23)));
        int tail = TAIL_AFTER_XSAVE;
        assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(resealFirstVcpu(good,
                payload -> Arrays.copyOf(payload, payload.length - 1)))))
                .isInstanceOf(SnapshotFormatException.class).hasMessageContaining("shorter than a vCPU state");
        assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(resealFirstVcpu(good,
                payload -> Arrays.copyOf(payload, payload.length + 1)))))
                .isInstanceOf(SnapshotFormatException.class).hasMessageContaining("bytes more than its state");
        assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(resealFirstVcpu(good, payload -> {
            payload[payload.length - tail - XSAVE2_BYTES - 5] = 2; // the XSAVE area's presence byte
            return payload;
        })))).isInstanceOf(SnapshotFormatException.class).hasMessageContaining("neither 0 nor 1");
        assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(resealFirstVcpu(good, payload -> {
            ByteBuffer.wrap(payload).putInt(payload.length - tail - XSAVE2_BYTES - 4, 100); // its size
            return payload;
        })))).isInstanceOf(SnapshotFormatException.class).hasMessageContaining("XSAVE area of 100 bytes");
    }

    @Test
    void anotherFormatVersionIsRefusedByName() throws IOException {
        byte[] newer = encode(sample(new Random(17)));
        ByteBuffer.wrap(newer).putInt(VERSION_OFFSET, VmSnapshot.FORMAT_VERSION + 1);
        assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(newer)))
                .isInstanceOf(SnapshotFormatException.class)
                .hasMessage("snapshot format version " + (VmSnapshot.FORMAT_VERSION + 1)
                        + " is not supported: this node reads version " + VmSnapshot.FORMAT_VERSION);
    }

    @Test
    void aStreamOfSomethingElseIsNotTakenForASnapshot() {
        byte[] other = "PK\u0003\u0004 not a snapshot at all".getBytes(StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> VmSnapshot.read(new ByteArrayInputStream(other)))
                .isInstanceOf(SnapshotFormatException.class).hasMessageContaining("not a quarkvm snapshot");
    }

    static byte[] encode(VmSnapshot snapshot) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        snapshot.write(out);
        return out.toByteArray();
    }

    /** An XSAVE area larger than struct kvm_xsave, as KVM_GET_XSAVE2 gives with AMX enabled. */
    private static final int XSAVE2_BYTES = KvmXsave.SIZE + 6912;
    /** The bytes of a full vCPU section after its XSAVE area: one XCR (17), the events (38), the TSC rate (5). */
    private static final int TAIL_AFTER_XSAVE = 17 + 38 + 5;
    private static final int SECTION_VCPU = 3;
    private static final int FIRST_SECTION = 12;

    /**
     * Two ranges of random pages in 4 MiB, two vCPUs with every field random: the first with every optional part,
     * the second with none.
     */
    private static VmSnapshot sample(Random random) {
        List<VmSnapshot.MemoryRange> memory = List.of(
                new VmSnapshot.MemoryRange(0, randomBytes(random, 2 * VmSnapshot.PAGE_SIZE)),
                new VmSnapshot.MemoryRange(16 * VmSnapshot.PAGE_SIZE, randomBytes(random, VmSnapshot.PAGE_SIZE)));
        List<VcpuState> vcpus = List.of(withEveryOptionalPart(vcpu(random, 0), random), vcpu(random, 1));
        return new VmSnapshot(4L << 20, memory, vcpus);
    }

    private static VcpuState withEveryOptionalPart(VcpuState state, Random random) {
        KvmVcpuEvents events = new KvmVcpuEvents();
        events.exceptionInjected = 1;
        events.exceptionNr = 14;
        events.exceptionHasErrorCode = 1;
        events.exceptionPending = random.nextInt(2);
        events.exceptionErrorCode = random.nextInt();
        events.interruptInjected = 1;
        events.interruptNr = 0x20 + random.nextInt(0xE0);
        events.interruptSoft = random.nextInt(2);
        events.interruptShadow = 2;
        events.nmiInjected = random.nextInt(2);
        events.nmiPending = random.nextInt(2);
        events.nmiMasked = 1;
        events.sipiVector = random.nextInt(0x100);
        events.flags = KvmVcpuEvents.VALID_NMI_PENDING | KvmVcpuEvents.VALID_SHADOW | KvmVcpuEvents.VALID_SMM
                | KvmVcpuEvents.VALID_PAYLOAD;
        events.smiSmm = 1;
        events.smiPending = random.nextInt(2);
        events.smiSmmInsideNmi = random.nextInt(2);
        events.smiLatchedInit = 0xFF;
        events.tripleFaultPending = random.nextInt(2);
        events.exceptionHasPayload = 1;
        events.exceptionPayload = random.nextLong();
        return new VcpuState(state.identity(), state.regs(), state.sregs(), state.fpu(),
                Optional.of(new KvmXsave(randomBytes(random, XSAVE2_BYTES))),
                Optional.of(List.of(new XcrEntry(XcrEntry.XCR0, random.nextLong()))), Optional.of(events),
                state.msrs(), state.mpState(), OptionalInt.of(1_000_000 + random.nextInt(4_000_000)));
    }

    /**
     * {@code stream} with the payload of its first vCPU section replaced by {@code change} of it, and the section's
     * length and CRC32C made right again, so that only the vCPU parser can find what is wrong.
     */
    private static byte[] resealFirstVcpu(byte[] stream, UnaryOperator<byte[]> change) {
        ByteBuffer in = ByteBuffer.wrap(stream);
        int at = FIRST_SECTION;
        while (stream[at] != SECTION_VCPU) {
            at += 1 + 4 + in.getInt(at + 1) + 4;
        }
        int length = in.getInt(at + 1);
        byte[] payload = change.apply(Arrays.copyOfRange(stream, at + 5, at + 5 + length));
        CRC32C crc = new CRC32C();
        crc.update(ByteBuffer.allocate(5).put((byte) SECTION_VCPU).putInt(payload.length).array());
        crc.update(payload);
        ByteBuffer out = ByteBuffer.allocate(stream.length - length + payload.length);
        out.put(stream, 0, at).put((byte) SECTION_VCPU).putInt(payload.length).put(payload)
                .putInt((int) crc.getValue()).put(stream, at + 5 + length + 4, stream.length - at - 5 - length - 4);
        return out.array();
    }

    /** A vCPU state with every field random, for the encoding tests of the streams that carry one. */
    public static VcpuState vcpu(Random random, int cpuIndex) {
        VcpuIdentity identity = new VcpuIdentity(new Slot(0, 0, cpuIndex, 0), cpuIndex, cpuIndex * 2, cpuIndex + 5);
        long[] values = new long[KvmRegs.SIZE / 8];
        Arrays.setAll(values, i -> random.nextLong());
        KvmSregs sregs = new KvmSregs();
        sregs.cs = segment(random);
        sregs.ds = segment(random);
        sregs.es = segment(random);
        sregs.fs = segment(random);
        sregs.gs = segment(random);
        sregs.ss = segment(random);
        sregs.tr = segment(random);
        sregs.ldt = segment(random);
        sregs.gdt = table(random);
        sregs.idt = table(random);
        sregs.cr0 = random.nextLong();
        sregs.cr2 = random.nextLong();
        sregs.cr3 = random.nextLong();
        sregs.cr4 = random.nextLong();
        sregs.cr8 = random.nextLong();
        sregs.efer = random.nextLong();
        sregs.apicBase = random.nextLong();
        sregs.setInterruptBitmap(new long[] {random.nextLong(), 0, random.nextLong(), 1});
        List<MsrEntry> msrs = List.of(new MsrEntry(0x10, random.nextLong()), new MsrEntry(0xC0000082,
                random.nextLong()));
        KvmFpu fpu = new KvmFpu();
        random.nextBytes(fpu.fpr);
        random.nextBytes(fpu.xmm);
        fpu.fcw = random.nextInt(0x10000);
        fpu.fsw = random.nextInt(0x10000);
        fpu.ftwx = random.nextInt(0x100);
        fpu.lastOpcode = random.nextInt(0x800);
        fpu.lastIp = random.nextLong();
        fpu.lastDp = random.nextLong();
        fpu.mxcsr = random.nextInt();
        return new VcpuState(identity, KvmRegs.ofValues(values), sregs, fpu, Optional.empty(), Optional.empty(),
                Optional.empty(), msrs, KvmMpState.HALTED, OptionalInt.empty());
    }

    private static KvmSegment segment(Random random) {
        KvmSegment segment = new KvmSegment();
        segment.base = random.nextLong();
        segment.limit = random.nextInt();
        segment.selector = random.nextInt(0x10000);
        segment.type = random.nextInt(16);
        segment.dpl = random.nextInt(4);
        segment.present = random.nextBoolean();
        segment.db = random.nextBoolean();
        segment.s = random.nextBoolean();
        segment.l = random.nextBoolean();
        segment.g = random.nextBoolean();
        segment.avl = random.nextBoolean();
        segment.unusable = random.nextBoolean();
        return segment;
    }

    private static KvmDtable table(Random random) {
        KvmDtable table = new KvmDtable();
        table.base = random.nextLong();
        table.limit = random.nextInt(0x10000);
        return table;
    }

    private static byte[] randomBytes(Random random, int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }
}

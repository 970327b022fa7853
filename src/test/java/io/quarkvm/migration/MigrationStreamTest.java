package io.quarkvm.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.vmm.SnapshotFormatException;
import io.quarkvm.vmm.StateSections;
import io.quarkvm.vmm.VcpuState;
import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmSnapshotEncodingTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The migration stream's encoding: what the writer writes reads back the same, and any damage is refused by name. */
class MigrationStreamTest {

    private static final int PAGE = VirtualMachine.PAGE_SIZE;
    private static final long MEMORY = 4L << 20;
    private static final int VERSION_OFFSET = 8;
    private static final UUID MIGRATION = UUID.fromString("6f1c2a8e-0d5b-4c1e-9a57-2b7f3e4d5c6a");
    private static final UUID VM = UUID.fromString("0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b");
    private static final List<VcpuState> ONE_VCPU = List.of(VmSnapshotEncodingTest.vcpu(new Random(1), 0));

    /** Guest memory as the writer reads it: the pages present hold their bytes, every other page is zero. */
    private static final class Memory implements MigrationStream.PageSource, MigrationStream.PageSink {
        final Map<Long, byte[]> pages = new HashMap<>();
        final Set<Long> zeroed = new HashSet<>();

        @Override
        public void read(long number, byte[] into) {
            byte[] page = pages.get(number);
            if (page == null) {
                Arrays.fill(into, (byte) 0);
            } else {
                System.arraycopy(page, 0, into, 0, PAGE);
            }
        }

        @Override
        public void page(long number, byte[] bytes, int offset) {
            pages.put(number, Arrays.copyOfRange(bytes, offset, offset + PAGE));
        }

        @Override
        public void zeroPage(long number) {
            pages.remove(number);
            zeroed.add(number);
        }
    }

    /** What a sample stream was made of, and its bytes. */
    private record Sample(MigrationStream.Header header, List<MigrationStream.RoundEnd> rounds, Memory memory,
                          List<VcpuState> vcpus, byte[] bytes) {
    }

    @Test
    void aStreamReadsBackAsItWasWritten() throws IOException {
        Sample sample = sample(new Random(3));
        Memory received = new Memory();

        MigrationStream.Reader reader = MigrationStream.reader(new ByteArrayInputStream(sample.bytes()));
        assertThat(reader.readHeader()).isEqualTo(sample.header());
        List<MigrationStream.RoundEnd> rounds = new ArrayList<>();
        do {
            rounds.add(reader.readRound(received));
        } while (!rounds.get(rounds.size() - 1).last());
        List<VcpuState> vcpus = reader.readVcpus();
        reader.readEnd();

        assertThat(rounds).isEqualTo(sample.rounds());
        assertThat(received.pages.keySet()).isEqualTo(sample.memory().pages.keySet());
        sample.memory().pages.forEach((number, bytes) ->
                assertThat(received.pages.get(number)).as("page %d", number).isEqualTo(bytes));
        assertThat(received.zeroed).as("the page that became zero went as a flag").containsExactly(9L);
        assertThat(vcpus).usingRecursiveFieldByFieldElementComparator().isEqualTo(sample.vcpus());
    }

    @Test
    void round0LeavesZeroPagesOutAndLongRunsAreSplit() throws IOException {
        Sample sample = sample(new Random(3));
        assertThat(sample.rounds().get(0).pages()).as("only the non-zero pages of 1024")
                .isEqualTo(2 + 300 + 1 + 1);
        List<Byte> types = sectionTypes(sample.bytes());
        assertThat(types.stream().filter(type -> type == MigrationStream.PAGES).count())
                .as("round 0: pages 0-1, 10-265, 266-309 (a run of 300 split at 256), 700, 1023; round 1: 3, 9, 10, "
                        + "round 2: 11").isEqualTo(5 + 2 + 1);
        assertThat(sample.bytes().length).as("the pages, a flag byte each, framing, header and two vCPU states")
                .isLessThan((304 + 3 + 1) * (PAGE + 1) + 8192);
    }

    @Test
    void everySingleCorruptByteIsRefused() throws IOException {
        byte[] good = smallStream();
        for (int offset = 0; offset < good.length; offset++) {
            byte[] bad = good.clone();
            bad[offset] ^= 0x21;
            int at = offset;
            assertThatThrownBy(() -> readAll(bad), "byte %d corrupted", at).isInstanceOf(SnapshotFormatException.class);
        }
    }

    @Test
    void aCorruptSectionOfEachTypeIsNamed() throws IOException {
        byte[] good = sample(new Random(5)).bytes();
        Map<Byte, String> names = Map.of(MigrationStream.HEADER, "header", MigrationStream.PAGES, "pages",
                MigrationStream.ROUND_END, "round end", MigrationStream.VCPU, "vCPU", MigrationStream.END, "end");
        for (Map.Entry<Byte, String> type : names.entrySet()) {
            byte[] bad = good.clone();
            int section = sectionOffsets(good).get(sectionTypes(good).indexOf(type.getKey()));
            int length = ByteBuffer.wrap(good).getInt(section + 1);
            bad[section + 5 + length / 2 + (length == 0 ? 1 : 0)] ^= 1; // the payload's middle; the CRC of END
            assertThatThrownBy(() -> readAll(bad)).as("a corrupt %s section", type.getValue())
                    .isInstanceOf(SnapshotFormatException.class)
                    .hasMessage("migration stream corrupt: CRC32C mismatch in the " + type.getValue() + " section");
        }
    }

    @Test
    void everyTruncationIsRefused() throws IOException {
        byte[] good = smallStream();
        for (int length = 0; length < good.length; length++) {
            byte[] cut = Arrays.copyOf(good, length);
            int at = length;
            assertThatThrownBy(() -> readAll(cut), "cut at %d", at).isInstanceOf(SnapshotFormatException.class)
                    .hasMessageStartingWith("migration stream truncated: it ended before");
        }
    }

    @Test
    void anotherMagicOrVersionIsRefusedByName() throws IOException {
        byte[] newer = smallStream();
        ByteBuffer.wrap(newer).putInt(VERSION_OFFSET, MigrationStream.FORMAT_VERSION + 1);
        assertThatThrownBy(() -> readAll(newer)).isInstanceOf(SnapshotFormatException.class)
                .hasMessage("migration stream format version 2 is not supported: this node reads version 1");
        byte[] snapshot = smallStream();
        System.arraycopy("QVMSNAP1".getBytes(StandardCharsets.US_ASCII), 0, snapshot, 0, 8);
        assertThatThrownBy(() -> readAll(snapshot)).isInstanceOf(SnapshotFormatException.class)
                .hasMessage("not a quarkvm migration stream: the stream does not start with QVMMIGR1");
    }

    @Test
    void sectionsOutOfOrderAreRefused() {
        byte[] vcpuFirst = afterHeader((writer, bytes) -> {
            writer.writeVcpu(ONE_VCPU.get(0)); // before any round
            writer.writeEnd();
        });
        assertThatThrownBy(() -> readAll(vcpuFirst)).isInstanceOf(SnapshotFormatException.class)
                .hasMessage("migration stream corrupt or out of order: expected the pages section (type 2) or the "
                        + "round end section (type 3), found type 4");
        byte[] noVcpu = afterHeader((writer, bytes) -> {
            writer.writeRoundEnd(true);
            writer.writeEnd();
        });
        assertThatThrownBy(() -> readAll(noVcpu)).isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("expected the vCPU section (type 4), found type 5");
    }

    @Test
    void roundsOutOfSequenceAreRefused() {
        byte[] skipping = afterHeader((writer, bytes) -> {
            writer.writeRoundEnd(false);
            StateSections.writeSection(new DataOutputStream(bytes), MigrationStream.ROUND_END, payload -> {
                payload.writeInt(5); // where round 1 ends
                payload.writeInt(0);
                payload.writeBoolean(true);
            });
        });
        assertThatThrownBy(() -> readAll(skipping)).isInstanceOf(SnapshotFormatException.class)
                .hasMessage("migration stream out of order: round end 5 (0 pages, last 1) where round 1 ended after 0 "
                        + "pages");
    }

    @Test
    void pagesBeyondMemoryAreRefused() {
        byte[] beyond = afterHeader((writer, bytes) -> {
            Memory memory = new Memory();
            memory.pages.put(1024L, page(new Random(2)));
            writer.writePages(pages(1024), memory, true);
            writer.writeRoundEnd(false);
        });
        assertThatThrownBy(() -> readAll(beyond)).isInstanceOf(SnapshotFormatException.class)
                .hasMessage("migration stream corrupt: pages 1024 to 1024 lie outside the VM's 1024 pages");
    }

    @Test
    void aVcpuStateOtherThanTheHeaderAnnouncedIsRefused() {
        byte[] other = afterHeader((writer, bytes) -> {
            writer.writeRoundEnd(true);
            writer.writeVcpu(VmSnapshotEncodingTest.vcpu(new Random(1), 1));
            writer.writeEnd();
        });
        assertThatThrownBy(() -> readAll(other)).isInstanceOf(SnapshotFormatException.class)
                .hasMessageContaining("vCPU section 0 carries").hasMessageContaining("the header announced");
    }

    /** What a test writes after the header of a 4 MiB VM with {@link #ONE_VCPU}. */
    private interface AfterHeader {
        void write(MigrationStream.Writer writer, ByteArrayOutputStream bytes) throws IOException;
    }

    private static byte[] afterHeader(AfterHeader rest) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            MigrationStream.Writer writer = MigrationStream.writer(bytes);
            writer.writeHeader(header(ONE_VCPU));
            rest.write(writer, bytes);
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads a whole stream, as the target does. */
    private static void readAll(byte[] stream) throws IOException {
        MigrationStream.Reader reader = MigrationStream.reader(new ByteArrayInputStream(stream));
        reader.readHeader();
        MigrationStream.RoundEnd round;
        do {
            round = reader.readRound(new Memory());
        } while (!round.last());
        reader.readVcpus();
        reader.readEnd();
    }

    /**
     * Round 0: pages 0, 1, 10-309, 700 and 1023 of 4 MiB (the rest zero, left out); round 1: pages 3 (new), 9
     * (became zero: a flag) and 10 (changed); the last round: page 11; two vCPUs.
     */
    private static Sample sample(Random random) throws IOException {
        Memory memory = new Memory();
        for (long number : new long[] {0, 1, 700, 1023}) {
            memory.pages.put(number, page(random));
        }
        for (long number = 9; number < 310; number++) {
            memory.pages.put(number, page(random));
        }
        List<VcpuState> vcpus = List.of(VmSnapshotEncodingTest.vcpu(random, 0),
                VmSnapshotEncodingTest.vcpu(random, 1));
        MigrationStream.Header header = header(vcpus);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationStream.Writer writer = MigrationStream.writer(bytes);
        writer.writeHeader(header);
        List<MigrationStream.RoundEnd> rounds = new ArrayList<>();
        BitSet all = new BitSet();
        all.set(0, (int) (MEMORY / PAGE));
        memory.pages.remove(9L); // zero in round 0: not sent
        writer.writePages(all, memory, true);
        rounds.add(writer.writeRoundEnd(false));
        memory.pages.put(9L, page(random));
        memory.pages.put(3L, page(random));
        memory.pages.put(10L, page(random));
        memory.pages.remove(9L);
        writer.writePages(pages(3, 9, 10), memory, false);
        rounds.add(writer.writeRoundEnd(false));
        memory.pages.put(11L, page(random));
        writer.writePages(pages(11), memory, false);
        rounds.add(writer.writeRoundEnd(true));
        for (VcpuState vcpu : vcpus) {
            writer.writeVcpu(vcpu);
        }
        writer.writeEnd();
        assertThat(writer.bytesWritten()).isEqualTo(bytes.size());
        return new Sample(header, rounds, memory, vcpus, bytes.toByteArray());
    }

    /** One data page, one zero page, one vCPU: every kind of section, small enough to damage byte by byte. */
    private static byte[] smallStream() throws IOException {
        Memory memory = new Memory();
        memory.pages.put(5L, page(new Random(9)));
        List<VcpuState> vcpus = List.of(VmSnapshotEncodingTest.vcpu(new Random(9), 0));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        MigrationStream.Writer writer = MigrationStream.writer(bytes);
        writer.writeHeader(header(vcpus));
        writer.writePages(pages(5), memory, true);
        writer.writeRoundEnd(false);
        writer.writePages(pages(6), memory, false);
        writer.writeRoundEnd(true);
        writer.writeVcpu(vcpus.get(0));
        writer.writeEnd();
        return bytes.toByteArray();
    }

    private static MigrationStream.Header header(List<VcpuState> vcpus) {
        List<VcpuIdentity> identities = vcpus.stream().map(VcpuState::identity).toList();
        return new MigrationStream.Header(MIGRATION, VM, MEMORY, identities);
    }

    private static byte[] page(Random random) {
        byte[] page = new byte[PAGE];
        random.nextBytes(page);
        return page;
    }

    private static BitSet pages(int... numbers) {
        BitSet set = new BitSet();
        Arrays.stream(numbers).forEach(set::set);
        return set;
    }

    /** Where each section starts (its type byte), walking the framing after the magic and version. */
    static List<Integer> sectionOffsets(byte[] stream) {
        List<Integer> offsets = new ArrayList<>();
        ByteBuffer buffer = ByteBuffer.wrap(stream);
        for (int at = 12; at < stream.length; at += 1 + 4 + buffer.getInt(at + 1) + 4) {
            offsets.add(at);
        }
        return offsets;
    }

    private static List<Byte> sectionTypes(byte[] stream) {
        return sectionOffsets(stream).stream().map(at -> stream[at]).toList();
    }
}

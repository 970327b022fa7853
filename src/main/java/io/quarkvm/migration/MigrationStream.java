package io.quarkvm.migration;

import static io.quarkvm.vmm.StateSections.MAX_VCPU_SECTION;
import static io.quarkvm.vmm.StateSections.readSection;
import static io.quarkvm.vmm.StateSections.readStart;
import static io.quarkvm.vmm.StateSections.readVcpu;
import static io.quarkvm.vmm.StateSections.writeSection;
import static io.quarkvm.vmm.StateSections.writeStart;

import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.vmm.SnapshotFormatException;
import io.quarkvm.vmm.StateSections;
import io.quarkvm.vmm.VcpuState;
import io.quarkvm.vmm.VirtualMachine;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The live migration stream, version {@value #FORMAT_VERSION} (docs/MIGRATION.md, "The stream"): the magic
 * {@code QVMMIGR1}, the format version (int), then sections framed as {@link StateSections} frames them (type byte,
 * length int, payload, CRC32C), big-endian, in this order:
 * <ol>
 * <li>{@code HEADER}: migration id, VM id (two longs each), memory bytes (long), the count of plugged vCPUs (int) and
 *     their identities (socket, die, core, thread, cpu_index, APIC ID, VP index: ints).</li>
 * <li>Rounds, numbered from 0: {@code PAGES} sections, each a run of consecutive pages (first page number long, page
 *     count int, then per page a flag byte: 0 a zero page, 1 followed by its {@value VirtualMachine#PAGE_SIZE}
 *     bytes), then {@code ROUND_END} (round int, pages in the round int, last byte). The round with last = 1 is the
 *     stop-and-copy round.</li>
 * <li>{@code VCPU}, one per plugged vCPU in the header's order: the vCPU encoding of {@link StateSections}.</li>
 * <li>{@code END}, empty.</li>
 * </ol>
 * The {@link Reader} checks all of it (magic, version, checksums, order, round numbers and counts, page numbers
 * within memory, vCPU identities against the header) and fails with a {@link SnapshotFormatException} whose message
 * says what was wrong.
 */
public final class MigrationStream {

    /** The encoding {@link Writer} produces and {@link Reader} accepts. */
    public static final int FORMAT_VERSION = 1;
    /** The most pages one PAGES section carries: about 1 MiB of payload. */
    public static final int MAX_PAGES_PER_SECTION = 256;
    static final String STREAM = "migration stream";
    static final byte[] MAGIC = "QVMMIGR1".getBytes(StandardCharsets.US_ASCII);
    static final byte HEADER = 1;
    static final byte PAGES = 2;
    static final byte ROUND_END = 3;
    static final byte VCPU = 4;
    static final byte END = 5;
    private static final int PAGE_SIZE = VirtualMachine.PAGE_SIZE;
    private static final int IDENTITY_BYTES = 7 * 4;
    /** Generous bound on the header: 40 bytes and the identities of more vCPUs than any VM here has. */
    private static final int MAX_HEADER = 40 + (1 << 16) * IDENTITY_BYTES;
    private static final int MAX_PAGES_SECTION = 12 + MAX_PAGES_PER_SECTION * (1 + PAGE_SIZE);
    private static final int ROUND_END_BYTES = 9;
    private static final byte ZERO_PAGE = 0;
    private static final byte DATA_PAGE = 1;

    private MigrationStream() {
    }

    /**
     * What the target learns before it creates anything.
     *
     * @param vcpus the plugged vCPUs' identities, in the order their VCPU sections follow
     */
    public record Header(UUID migrationId, UUID vmId, long memoryBytes, List<VcpuIdentity> vcpus) {
        public Header {
            vcpus = List.copyOf(vcpus);
        }
    }

    /** A round's end as the stream carries it. */
    public record RoundEnd(int round, int pages, boolean last) {
    }

    /** Where a reader puts the pages of a round. */
    public interface PageSink {
        /** Page {@code number} holds the page of {@code bytes} that starts at {@code offset}. */
        void page(long number, byte[] bytes, int offset);

        /** Page {@code number} is all zero. */
        void zeroPage(long number);
    }

    /** Where a writer reads the pages it sends: {@code into} gets page {@code number}. */
    public interface PageSource {
        void read(long number, byte[] into);
    }

    public static Writer writer(OutputStream out) throws IOException {
        return new Writer(out);
    }

    /**
     * Reads and checks the magic and version.
     *
     * @throws SnapshotFormatException not a migration stream, another version, or truncated
     */
    public static Reader reader(InputStream in) throws IOException {
        return new Reader(in);
    }

    /** Writes one stream; counts what it wrote. Not thread-safe. */
    public static final class Writer {

        private final CountingStream counted;
        private final DataOutputStream out;
        private int round;
        private int pagesInRound;

        private Writer(OutputStream out) throws IOException {
            this.counted = new CountingStream(new BufferedOutputStream(out, 1 << 16));
            this.out = new DataOutputStream(counted);
            writeStart(this.out, MAGIC, FORMAT_VERSION);
        }

        public void writeHeader(Header header) throws IOException {
            writeSection(out, HEADER, payload -> {
                payload.writeLong(header.migrationId().getMostSignificantBits());
                payload.writeLong(header.migrationId().getLeastSignificantBits());
                payload.writeLong(header.vmId().getMostSignificantBits());
                payload.writeLong(header.vmId().getLeastSignificantBits());
                payload.writeLong(header.memoryBytes());
                payload.writeInt(header.vcpus().size());
                for (VcpuIdentity identity : header.vcpus()) {
                    Slot slot = identity.slot();
                    for (int value : new int[] {slot.socket(), slot.die(), slot.core(), slot.thread(),
                            identity.cpuIndex(), identity.apicId(), identity.vpIndex()}) {
                        payload.writeInt(value);
                    }
                }
            });
        }

        /**
         * Sends the pages of {@code pages} in the current round, in runs of consecutive pages; a page that reads all
         * zero goes as a flag only, or not at all with {@code skipZeroPages} (round 0: the target's memory starts
         * zero).
         *
         * @return how many pages it sent
         */
        public int writePages(BitSet pages, PageSource source, boolean skipZeroPages) throws IOException {
            PageRun run = new PageRun();
            byte[] page = new byte[PAGE_SIZE];
            int sent = 0;
            for (int number = pages.nextSetBit(0); number >= 0; number = pages.nextSetBit(number + 1)) {
                source.read(number, page);
                boolean zero = StateSections.isZero(page);
                if (zero && skipZeroPages) {
                    continue;
                }
                if (!run.continuedBy(number)) {
                    run.writeTo(out);
                    run = new PageRun();
                }
                run.add(number, zero ? null : page);
                sent++;
            }
            run.writeTo(out);
            pagesInRound += sent;
            return sent;
        }

        /** Ends the current round (numbered from 0) with the count of pages it sent, and flushes. */
        public RoundEnd writeRoundEnd(boolean last) throws IOException {
            RoundEnd end = new RoundEnd(round, pagesInRound, last);
            writeSection(out, ROUND_END, payload -> {
                payload.writeInt(end.round());
                payload.writeInt(end.pages());
                payload.writeBoolean(end.last());
            });
            out.flush();
            round++;
            pagesInRound = 0;
            return end;
        }

        public void writeVcpu(VcpuState state) throws IOException {
            writeSection(out, VCPU, payload -> StateSections.writeVcpu(payload, state));
        }

        /** Ends the stream and flushes it; does not close the stream underneath. */
        public void writeEnd() throws IOException {
            writeSection(out, END, payload -> { });
            out.flush();
        }

        /** Bytes written so far, buffered ones included. */
        public long bytesWritten() {
            return counted.count;
        }
    }

    /** Up to {@link #MAX_PAGES_PER_SECTION} consecutive pages on their way into one PAGES section. */
    private static final class PageRun {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private long firstPage = -1;
        private int count;

        boolean continuedBy(long number) {
            return count == 0 || (number == firstPage + count && count < MAX_PAGES_PER_SECTION);
        }

        /** A page's bytes, or null for a zero page. */
        void add(long number, byte[] page) {
            if (count == 0) {
                firstPage = number;
            }
            count++;
            bytes.write(page == null ? ZERO_PAGE : DATA_PAGE);
            if (page != null) {
                bytes.write(page, 0, page.length);
            }
        }

        void writeTo(DataOutputStream out) throws IOException {
            if (count == 0) {
                return;
            }
            writeSection(out, PAGES, payload -> {
                payload.writeLong(firstPage);
                payload.writeInt(count);
                bytes.writeTo(payload);
            });
        }
    }

    /** Counts the bytes that go through it. */
    private static final class CountingStream extends FilterOutputStream {
        private long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }

    /**
     * Reads one stream in its order: {@link #readHeader}, {@link #readRound} until the last round, {@link #readVcpus},
     * {@link #readEnd}. Every method fails with a {@link SnapshotFormatException} on a stream that is truncated,
     * corrupt or out of order. Not thread-safe.
     */
    public static final class Reader {

        private final DataInputStream in;
        private Header header;
        private int nextRound;
        private boolean lastRoundRead;

        private Reader(InputStream in) throws IOException {
            this.in = new DataInputStream(new BufferedInputStream(in, 1 << 16));
            try {
                readStart(this.in, STREAM, MAGIC, FORMAT_VERSION);
            } catch (EOFException e) {
                throw truncated("before its header", e);
            }
        }

        public Header readHeader() throws IOException {
            if (header != null) {
                throw new IllegalStateException("the header has been read");
            }
            ByteBuffer payload = section(HEADER, "header", MAX_HEADER, "its header").payload();
            try {
                UUID migrationId = new UUID(payload.getLong(), payload.getLong());
                UUID vmId = new UUID(payload.getLong(), payload.getLong());
                long memoryBytes = payload.getLong();
                int count = payload.getInt();
                if (memoryBytes <= 0 || memoryBytes % PAGE_SIZE != 0 || count <= 0
                        || count != payload.remaining() / IDENTITY_BYTES || payload.remaining() % IDENTITY_BYTES != 0) {
                    throw new SnapshotFormatException(STREAM + " header is inconsistent: " + memoryBytes + " bytes of "
                            + "memory, " + count + " vCPUs in " + payload.remaining() + " bytes");
                }
                List<VcpuIdentity> vcpus = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    Slot slot = new Slot(payload.getInt(), payload.getInt(), payload.getInt(), payload.getInt());
                    vcpus.add(new VcpuIdentity(slot, payload.getInt(), payload.getInt(), payload.getInt()));
                }
                header = new Header(migrationId, vmId, memoryBytes, vcpus);
                return header;
            } catch (BufferUnderflowException e) {
                throw new SnapshotFormatException(STREAM + " header is shorter than its fields", e);
            }
        }

        /**
         * Reads the next round's PAGES sections into {@code sink}, each once it is whole and checked, up to its
         * ROUND_END; checks the round's number and page count.
         */
        public RoundEnd readRound(PageSink sink) throws IOException {
            requireHeader();
            if (lastRoundRead) {
                throw new IllegalStateException("the last round has been read");
            }
            long memoryPages = header.memoryBytes() / PAGE_SIZE;
            int pages = 0;
            while (true) {
                StateSections.Section section = section(Map.of(PAGES, "pages", ROUND_END, "round end"),
                        MAX_PAGES_SECTION, "round " + nextRound + " ended");
                if (section.type() == ROUND_END) {
                    RoundEnd end = roundEnd(section.payload(), pages);
                    nextRound++;
                    lastRoundRead = end.last();
                    return end;
                }
                pages += readPages(section.payload(), memoryPages, sink);
            }
        }

        private RoundEnd roundEnd(ByteBuffer payload, int pagesRead) throws SnapshotFormatException {
            if (payload.remaining() != ROUND_END_BYTES) {
                throw new SnapshotFormatException(STREAM + " corrupt: a round end of " + payload.remaining()
                        + " bytes");
            }
            int round = payload.getInt();
            int pages = payload.getInt();
            byte last = payload.get();
            if (round != nextRound || pages != pagesRead || (last != 0 && last != 1)) {
                throw new SnapshotFormatException(STREAM + " out of order: round end " + round + " (" + pages
                        + " pages, last " + last + ") where round " + nextRound + " ended after " + pagesRead
                        + " pages");
            }
            return new RoundEnd(round, pages, last == 1);
        }

        /** Checks the whole section, then hands its pages to the sink; returns how many. */
        private int readPages(ByteBuffer payload, long memoryPages, PageSink sink) throws SnapshotFormatException {
            try {
                long first = payload.getLong();
                int count = payload.getInt();
                if (count <= 0 || count > MAX_PAGES_PER_SECTION || first < 0 || first > memoryPages - count) {
                    throw new SnapshotFormatException(STREAM + " corrupt: pages " + first + " to "
                            + (first + count - 1) + " lie outside the VM's " + memoryPages + " pages");
                }
                int start = payload.position();
                for (int i = 0; i < count; i++) {
                    byte flag = payload.get();
                    if (flag == DATA_PAGE) {
                        payload.position(payload.position() + PAGE_SIZE);
                    } else if (flag != ZERO_PAGE) {
                        throw new SnapshotFormatException(STREAM + " corrupt: page " + (first + i) + " has flag "
                                + flag);
                    }
                }
                if (payload.hasRemaining()) {
                    throw new SnapshotFormatException(STREAM + " corrupt: a pages section has " + payload.remaining()
                            + " bytes beyond its " + count + " pages");
                }
                payload.position(start);
                for (int i = 0; i < count; i++) {
                    if (payload.get() == DATA_PAGE) {
                        sink.page(first + i, payload.array(), payload.position());
                        payload.position(payload.position() + PAGE_SIZE);
                    } else {
                        sink.zeroPage(first + i);
                    }
                }
                return count;
            } catch (BufferUnderflowException | IllegalArgumentException e) {
                throw new SnapshotFormatException(STREAM + " corrupt: a pages section is shorter than its pages", e);
            }
        }

        /** After the last round: one vCPU state per header identity, in the header's order. */
        public List<VcpuState> readVcpus() throws IOException {
            requireHeader();
            if (!lastRoundRead) {
                throw new IllegalStateException("the vCPU states follow the last round");
            }
            List<VcpuState> states = new ArrayList<>();
            for (int i = 0; i < header.vcpus().size(); i++) {
                VcpuState state = readVcpu(section(VCPU, "vCPU", MAX_VCPU_SECTION, "vCPU " + i).payload(), i);
                if (!state.identity().equals(header.vcpus().get(i))) {
                    throw new SnapshotFormatException(STREAM + " corrupt: vCPU section " + i + " carries "
                            + state.identity() + ", the header announced " + header.vcpus().get(i));
                }
                states.add(state);
            }
            return states;
        }

        /** The end section; nothing is read past it. */
        public void readEnd() throws IOException {
            section(END, "end", 0, "its end");
        }

        private void requireHeader() {
            if (header == null) {
                throw new IllegalStateException("read the header first");
            }
        }

        private StateSections.Section section(byte type, String what, int maxLength, String before)
                throws IOException {
            return section(Map.of(type, what), maxLength, before);
        }

        /** @param before what the stream ended before, when it is truncated */
        private StateSections.Section section(Map<Byte, String> expected, int maxLength, String before)
                throws IOException {
            try {
                return readSection(in, STREAM, expected, maxLength);
            } catch (EOFException e) {
                throw truncated("before " + before, e);
            }
        }

        private static SnapshotFormatException truncated(String where, EOFException cause) {
            return new SnapshotFormatException(STREAM + " truncated: it ended " + where, cause);
        }
    }
}

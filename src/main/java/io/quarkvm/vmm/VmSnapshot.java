package io.quarkvm.vmm;

import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.kvm.KvmDtable;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSegment;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.MsrEntry;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.CRC32C;

/**
 * A paused VM's complete state: its guest memory (the pages that are not all zero) and every plugged vCPU's
 * {@link VcpuState}, which {@link VirtualMachine#restore} turns into a VM that continues where this one was.
 *
 * <p>{@link #write} encodes it as the migration stream carries it: the magic {@code QVMSNAP1}, a format version
 * (int), then sections, each a type (byte), a payload length (int), the payload, and the CRC32C of type, length and
 * payload (int): one header (memory size, range count, vCPU count), one section per memory range (at most
 * {@link #MAX_RANGE_BYTES}, whole 4 KiB pages, zero pages left out), one per vCPU, and an end section. {@link #read}
 * checks all of it and fails with a {@link SnapshotFormatException} before anything could use a part of it.
 * Numbers are big-endian.
 *
 * @param memoryBytes the VM's RAM size
 * @param memory      the non-zero pages, ascending and disjoint
 * @param vcpus       the plugged vCPUs, in cpu_index order
 */
public record VmSnapshot(long memoryBytes, List<MemoryRange> memory, List<VcpuState> vcpus) {

    /** The encoding {@link #write} produces and {@link #read} accepts. */
    public static final int FORMAT_VERSION = 1;
    static final int PAGE_SIZE = 4096;
    static final int MAX_RANGE_BYTES = 1 << 20;
    private static final byte[] MAGIC = "QVMSNAP1".getBytes(StandardCharsets.US_ASCII);
    private static final byte SECTION_HEADER = 1;
    private static final byte SECTION_MEMORY = 2;
    private static final byte SECTION_VCPU = 3;
    private static final byte SECTION_END = 4;
    /** Generous bound on a vCPU section, so that a corrupt length cannot make the reader allocate gigabytes. */
    private static final int MAX_VCPU_SECTION = 1 << 16;
    private static final long CAPTURE_TIMEOUT_SECONDS = 10;

    /** {@code bytes} of guest memory from guest-physical {@code guestPhysical}. */
    public record MemoryRange(long guestPhysical, byte[] bytes) {
        @Override
        public boolean equals(Object other) {
            return other instanceof MemoryRange range && range.guestPhysical == guestPhysical
                    && Arrays.equals(range.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(guestPhysical) * 31 + Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return "MemoryRange[0x" + Long.toHexString(guestPhysical) + ", " + bytes.length + " bytes]";
        }
    }

    public VmSnapshot {
        memory = List.copyOf(memory);
        vcpus = List.copyOf(vcpus);
    }

    /**
     * Pauses {@code vm} (it stays paused: the caller resumes or stops it) and captures it: every plugged vCPU's state
     * on that vCPU's own thread, then a copy of guest memory.
     *
     * @throws IllegalStateException the VM has stopped or crashed, or a vCPU did not answer in time
     */
    public static VmSnapshot capture(VirtualMachine vm) {
        vm.pause();
        List<VcpuIdentity> plugged = vm.pluggedVcpus();
        List<CompletableFuture<VcpuState>> captures = plugged.stream()
                .map(identity -> vm.onVcpuThread(identity.apicId(), vcpu -> VcpuState.capture(identity, vcpu)))
                .toList();
        List<VcpuState> states = new ArrayList<>();
        for (CompletableFuture<VcpuState> capture : captures) {
            states.add(await(capture, "capture a vCPU's state"));
        }
        GuestMemory memory = vm.memory();
        return new VmSnapshot(memory.size(), nonZeroRanges(memory), states);
    }

    static <T> T await(CompletableFuture<T> outcome, String what) {
        try {
            return outcome.get(CAPTURE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("could not " + what + " within " + CAPTURE_TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting to " + what, e);
        }
    }

    /** Runs of consecutive non-zero pages, cut at {@link #MAX_RANGE_BYTES}. */
    private static List<MemoryRange> nonZeroRanges(GuestMemory memory) {
        List<MemoryRange> ranges = new ArrayList<>();
        ByteArrayOutputStream run = new ByteArrayOutputStream();
        long runStart = 0;
        byte[] page = new byte[PAGE_SIZE];
        for (long address = 0; address < memory.size(); address += PAGE_SIZE) {
            memory.read(address, page);
            boolean zero = isZero(page);
            if (!zero && run.size() == 0) {
                runStart = address;
            }
            if (!zero) {
                run.write(page, 0, PAGE_SIZE);
            }
            if ((zero || run.size() == MAX_RANGE_BYTES) && run.size() > 0) {
                ranges.add(new MemoryRange(runStart, run.toByteArray()));
                run.reset();
            }
        }
        if (run.size() > 0) {
            ranges.add(new MemoryRange(runStart, run.toByteArray()));
        }
        return ranges;
    }

    private static boolean isZero(byte[] page) {
        ByteBuffer words = ByteBuffer.wrap(page);
        while (words.hasRemaining()) {
            if (words.getLong() != 0) {
                return false;
            }
        }
        return true;
    }

    /** The bytes of the non-zero pages, what the stream carries of memory. */
    public long memoryBytesCarried() {
        return memory.stream().mapToLong(range -> range.bytes().length).sum();
    }

    // ---- encoding ------------------------------------------------------------------------------------------

    /** Encodes this snapshot (see the class comment); does not close {@code out}. */
    public void write(OutputStream out) throws IOException {
        DataOutputStream data = new DataOutputStream(out);
        data.write(MAGIC);
        data.writeInt(FORMAT_VERSION);
        writeSection(data, SECTION_HEADER, payload -> {
            payload.writeLong(memoryBytes);
            payload.writeInt(memory.size());
            payload.writeInt(vcpus.size());
        });
        for (MemoryRange range : memory) {
            writeSection(data, SECTION_MEMORY, payload -> {
                payload.writeLong(range.guestPhysical());
                payload.write(range.bytes());
            });
        }
        for (VcpuState vcpu : vcpus) {
            writeSection(data, SECTION_VCPU, payload -> writeVcpu(payload, vcpu));
        }
        writeSection(data, SECTION_END, payload -> { });
        data.flush();
    }

    private interface PayloadWriter {
        void write(DataOutputStream payload) throws IOException;
    }

    private static void writeSection(DataOutputStream out, byte type, PayloadWriter writer) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        writer.write(new DataOutputStream(bytes));
        byte[] payload = bytes.toByteArray();
        out.writeByte(type);
        out.writeInt(payload.length);
        out.write(payload);
        out.writeInt(checksum(type, payload.length, payload));
    }

    private static int checksum(byte type, int length, byte[] payload) {
        CRC32C crc = new CRC32C();
        crc.update(ByteBuffer.allocate(5).put(type).putInt(length).array());
        crc.update(payload);
        return (int) crc.getValue();
    }

    /**
     * Decodes what {@link #write} encoded, checking magic, version, every section's checksum and bounds, and that
     * nothing is missing; reads nothing past the end section.
     *
     * @throws SnapshotFormatException the stream is truncated, corrupt, or of another format version
     */
    public static VmSnapshot read(InputStream in) throws IOException {
        DataInputStream data = new DataInputStream(in);
        try {
            byte[] magic = data.readNBytes(MAGIC.length);
            if (magic.length < MAGIC.length) {
                throw new EOFException();
            }
            if (!Arrays.equals(magic, MAGIC)) {
                throw new SnapshotFormatException("not a quarkvm snapshot: the stream does not start with QVMSNAP1");
            }
            int version = data.readInt();
            if (version != FORMAT_VERSION) {
                throw new SnapshotFormatException("snapshot format version " + version + " is not supported: this "
                        + "node reads version " + FORMAT_VERSION);
            }
            ByteBuffer header = readSection(data, SECTION_HEADER, "header", 16);
            long memoryBytes = header.getLong();
            int rangeCount = header.getInt();
            int vcpuCount = header.getInt();
            if (memoryBytes <= 0 || memoryBytes % PAGE_SIZE != 0 || rangeCount < 0 || vcpuCount <= 0) {
                throw new SnapshotFormatException("snapshot header is inconsistent: " + memoryBytes + " bytes of "
                        + "memory, " + rangeCount + " ranges, " + vcpuCount + " vCPUs");
            }
            List<MemoryRange> ranges = new ArrayList<>();
            long end = 0;
            for (int i = 0; i < rangeCount; i++) {
                ByteBuffer section = readSection(data, SECTION_MEMORY, "memory range " + i, 8 + MAX_RANGE_BYTES);
                long guestPhysical = section.getLong();
                byte[] bytes = new byte[section.remaining()];
                section.get(bytes);
                if (guestPhysical < end || guestPhysical % PAGE_SIZE != 0 || bytes.length == 0
                        || bytes.length % PAGE_SIZE != 0 || guestPhysical + bytes.length > memoryBytes) {
                    throw new SnapshotFormatException("memory range " + i + " at 0x" + Long.toHexString(guestPhysical)
                            + " (" + bytes.length + " bytes) is not whole pages in order within " + memoryBytes
                            + " bytes");
                }
                end = guestPhysical + bytes.length;
                ranges.add(new MemoryRange(guestPhysical, bytes));
            }
            List<VcpuState> states = new ArrayList<>();
            for (int i = 0; i < vcpuCount; i++) {
                states.add(readVcpu(readSection(data, SECTION_VCPU, "vCPU " + i, MAX_VCPU_SECTION), i));
            }
            readSection(data, SECTION_END, "end", 0);
            return new VmSnapshot(memoryBytes, ranges, states);
        } catch (EOFException e) {
            throw new SnapshotFormatException("snapshot stream truncated: it ended before its end section", e);
        }
    }

    private static ByteBuffer readSection(DataInputStream in, byte expectedType, String what, int maxLength)
            throws IOException {
        byte type = in.readByte();
        if (type != expectedType) {
            throw new SnapshotFormatException("snapshot corrupt: expected the " + what + " section (type "
                    + expectedType + "), found type " + type);
        }
        int length = in.readInt();
        if (length < 0 || length > maxLength) {
            throw new SnapshotFormatException("snapshot corrupt: the " + what + " section claims " + length
                    + " bytes, at most " + maxLength + " allowed");
        }
        byte[] payload = new byte[length];
        in.readFully(payload);
        int stored = in.readInt();
        if (stored != checksum(type, length, payload)) {
            throw new SnapshotFormatException("snapshot corrupt: CRC32C mismatch in the " + what + " section");
        }
        return ByteBuffer.wrap(payload);
    }

    private static void writeVcpu(DataOutputStream out, VcpuState state) throws IOException {
        VcpuIdentity identity = state.identity();
        Slot slot = identity.slot();
        for (int value : new int[] {slot.socket(), slot.die(), slot.core(), slot.thread(), identity.cpuIndex(),
                identity.apicId(), identity.vpIndex()}) {
            out.writeInt(value);
        }
        for (long value : state.regs().values()) {
            out.writeLong(value);
        }
        KvmSregs sregs = state.sregs();
        for (KvmSegment segment : segments(sregs)) {
            writeSegment(out, segment);
        }
        for (KvmDtable table : new KvmDtable[] {sregs.gdt, sregs.idt}) {
            out.writeLong(table.base);
            out.writeShort(table.limit);
        }
        for (long value : new long[] {sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4, sregs.cr8, sregs.efer,
                sregs.apicBase}) {
            out.writeLong(value);
        }
        for (long word : sregs.interruptBitmap()) {
            out.writeLong(word);
        }
        KvmFpu fpu = state.fpu();
        out.write(fpu.fpr);
        out.writeShort(fpu.fcw);
        out.writeShort(fpu.fsw);
        out.writeByte(fpu.ftwx);
        out.writeShort(fpu.lastOpcode);
        out.writeLong(fpu.lastIp);
        out.writeLong(fpu.lastDp);
        out.write(fpu.xmm);
        out.writeInt(fpu.mxcsr);
        out.writeInt(state.msrs().size());
        for (MsrEntry msr : state.msrs()) {
            out.writeInt(msr.index());
            out.writeLong(msr.data());
        }
        out.writeInt(state.mpState());
    }

    private static VcpuState readVcpu(ByteBuffer in, int number) throws SnapshotFormatException {
        try {
            Slot slot = new Slot(in.getInt(), in.getInt(), in.getInt(), in.getInt());
            VcpuIdentity identity = new VcpuIdentity(slot, in.getInt(), in.getInt(), in.getInt());
            long[] regValues = new long[KvmRegs.SIZE / 8];
            for (int i = 0; i < regValues.length; i++) {
                regValues[i] = in.getLong();
            }
            KvmSregs sregs = new KvmSregs();
            KvmSegment[] segments = new KvmSegment[8];
            for (int i = 0; i < segments.length; i++) {
                segments[i] = readSegment(in);
            }
            sregs.cs = segments[0];
            sregs.ds = segments[1];
            sregs.es = segments[2];
            sregs.fs = segments[3];
            sregs.gs = segments[4];
            sregs.ss = segments[5];
            sregs.tr = segments[6];
            sregs.ldt = segments[7];
            sregs.gdt = readTable(in);
            sregs.idt = readTable(in);
            sregs.cr0 = in.getLong();
            sregs.cr2 = in.getLong();
            sregs.cr3 = in.getLong();
            sregs.cr4 = in.getLong();
            sregs.cr8 = in.getLong();
            sregs.efer = in.getLong();
            sregs.apicBase = in.getLong();
            long[] bitmap = new long[4];
            for (int i = 0; i < bitmap.length; i++) {
                bitmap[i] = in.getLong();
            }
            sregs.setInterruptBitmap(bitmap);
            KvmFpu fpu = new KvmFpu();
            in.get(fpu.fpr);
            fpu.fcw = Short.toUnsignedInt(in.getShort());
            fpu.fsw = Short.toUnsignedInt(in.getShort());
            fpu.ftwx = Byte.toUnsignedInt(in.get());
            fpu.lastOpcode = Short.toUnsignedInt(in.getShort());
            fpu.lastIp = in.getLong();
            fpu.lastDp = in.getLong();
            in.get(fpu.xmm);
            fpu.mxcsr = in.getInt();
            int msrCount = in.getInt();
            if (msrCount < 0 || msrCount > in.remaining() / 12) {
                throw new SnapshotFormatException("vCPU " + number + " claims " + msrCount + " MSRs");
            }
            List<MsrEntry> msrs = new ArrayList<>();
            for (int i = 0; i < msrCount; i++) {
                msrs.add(new MsrEntry(in.getInt(), in.getLong()));
            }
            int mpState = in.getInt();
            if (in.hasRemaining()) {
                throw new SnapshotFormatException("vCPU " + number + " section has " + in.remaining()
                        + " bytes more than its state");
            }
            return new VcpuState(identity, KvmRegs.ofValues(regValues), sregs, fpu, msrs, mpState);
        } catch (BufferUnderflowException e) {
            throw new SnapshotFormatException("vCPU " + number + " section is shorter than a vCPU state", e);
        }
    }

    private static KvmSegment[] segments(KvmSregs sregs) {
        return new KvmSegment[] {sregs.cs, sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss, sregs.tr, sregs.ldt};
    }

    private static void writeSegment(DataOutputStream out, KvmSegment segment) throws IOException {
        out.writeLong(segment.base);
        out.writeInt(segment.limit);
        out.writeShort(segment.selector);
        out.writeByte(segment.type);
        out.writeByte(segment.dpl);
        int flags = 0;
        boolean[] bits = {segment.present, segment.db, segment.s, segment.l, segment.g, segment.avl,
                segment.unusable};
        for (int i = 0; i < bits.length; i++) {
            flags |= bits[i] ? 1 << i : 0;
        }
        out.writeByte(flags);
    }

    private static KvmSegment readSegment(ByteBuffer in) {
        KvmSegment segment = new KvmSegment();
        segment.base = in.getLong();
        segment.limit = in.getInt();
        segment.selector = Short.toUnsignedInt(in.getShort());
        segment.type = Byte.toUnsignedInt(in.get());
        segment.dpl = Byte.toUnsignedInt(in.get());
        int flags = in.get();
        segment.present = (flags & 1) != 0;
        segment.db = (flags & 1 << 1) != 0;
        segment.s = (flags & 1 << 2) != 0;
        segment.l = (flags & 1 << 3) != 0;
        segment.g = (flags & 1 << 4) != 0;
        segment.avl = (flags & 1 << 5) != 0;
        segment.unusable = (flags & 1 << 6) != 0;
        return segment;
    }

    private static KvmDtable readTable(ByteBuffer in) {
        KvmDtable table = new KvmDtable();
        table.base = in.getLong();
        table.limit = Short.toUnsignedInt(in.getShort());
        return table;
    }
}

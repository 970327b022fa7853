package io.quarkvm.vmm;

import io.quarkvm.domain.Slot;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.kvm.KvmDtable;
import io.quarkvm.kvm.KvmFpu;
import io.quarkvm.kvm.KvmRegs;
import io.quarkvm.kvm.KvmSegment;
import io.quarkvm.kvm.KvmSregs;
import io.quarkvm.kvm.KvmVcpuEvents;
import io.quarkvm.kvm.KvmXcrs;
import io.quarkvm.kvm.KvmXsave;
import io.quarkvm.kvm.MsrEntry;
import io.quarkvm.kvm.XcrEntry;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Collectors;
import java.util.zip.CRC32C;

/**
 * What the snapshot ({@link VmSnapshot}) and the migration stream share: the start (a magic, then a format version
 * int), the section framing (a type byte, a payload length int, the payload, and the CRC32C of type, length and
 * payload as an int; big-endian) and the encoding of one vCPU's {@link VcpuState}.
 */
public final class StateSections {

    /** Generous bound on a vCPU section, so that a corrupt length cannot make the reader allocate gigabytes. */
    public static final int MAX_VCPU_SECTION = 1 << 16;

    private StateSections() {
    }

    /** Whether {@code page} (a multiple of 8 bytes long) is all zero: neither stream carries such a page's bytes. */
    public static boolean isZero(byte[] page) {
        ByteBuffer words = ByteBuffer.wrap(page);
        while (words.hasRemaining()) {
            if (words.getLong() != 0) {
                return false;
            }
        }
        return true;
    }

    /** Writes a section's payload. */
    public interface PayloadWriter {
        void write(DataOutputStream payload) throws IOException;
    }

    /** One section: type, payload length, payload, and the CRC32C of the three. */
    public static void writeSection(DataOutputStream out, byte type, PayloadWriter writer) throws IOException {
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

    /** A section as read: its type, and its payload, whose checksum matched. */
    public record Section(byte type, ByteBuffer payload) {
    }

    /** Writes what opens a stream: its magic, then its format version. */
    public static void writeStart(DataOutputStream out, byte[] magic, int version) throws IOException {
        out.write(magic);
        out.writeInt(version);
    }

    /**
     * Reads and checks what {@link #writeStart} wrote.
     *
     * @param stream what the stream is, for messages ("snapshot", "migration stream")
     * @throws SnapshotFormatException another magic, or a format version other than {@code version}
     * @throws EOFException            the stream ended first
     */
    public static void readStart(DataInputStream in, String stream, byte[] magic, int version) throws IOException {
        byte[] found = in.readNBytes(magic.length);
        if (found.length < magic.length) {
            throw new EOFException();
        }
        if (!Arrays.equals(found, magic)) {
            throw new SnapshotFormatException("not a quarkvm " + stream + ": the stream does not start with "
                    + new String(magic, StandardCharsets.US_ASCII));
        }
        int foundVersion = in.readInt();
        if (foundVersion != version) {
            throw new SnapshotFormatException(stream + " format version " + foundVersion + " is not supported: "
                    + "this node reads version " + version);
        }
    }

    /** {@link #readSection(DataInputStream, String, Map, int)} of one expected type; returns its payload. */
    public static ByteBuffer readSection(DataInputStream in, String stream, byte expectedType, String what,
                                         int maxLength) throws IOException {
        return readSection(in, stream, Map.of(expectedType, what), maxLength).payload();
    }

    /**
     * Reads one section whose type is one of {@code expected} (type → what it is, for messages), of at most
     * {@code maxLength} bytes of payload, and checks its CRC32C; the type and length are checked before the payload
     * is read, so a corrupt length never makes it allocate more than {@code maxLength}.
     *
     * @throws SnapshotFormatException another type (a section out of order), a length beyond the bound, or a
     *                                 checksum mismatch
     * @throws EOFException            the stream ended within the section
     */
    public static Section readSection(DataInputStream in, String stream, Map<Byte, String> expected, int maxLength)
            throws IOException {
        byte type = in.readByte();
        String what = expected.get(type);
        if (what == null) {
            String wanted = expected.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .map(entry -> "the " + entry.getValue() + " section (type " + entry.getKey() + ")")
                    .collect(Collectors.joining(" or "));
            throw new SnapshotFormatException(stream + " corrupt or out of order: expected " + wanted
                    + ", found type " + type);
        }
        int length = in.readInt();
        if (length < 0 || length > maxLength) {
            throw new SnapshotFormatException(stream + " corrupt: the " + what + " section claims " + length
                    + " bytes, at most " + maxLength + " allowed");
        }
        byte[] payload = new byte[length];
        in.readFully(payload);
        int stored = in.readInt();
        if (stored != checksum(type, length, payload)) {
            throw new SnapshotFormatException(stream + " corrupt: CRC32C mismatch in the " + what + " section");
        }
        return new Section(type, ByteBuffer.wrap(payload));
    }

    /** The vCPU encoding both streams carry (one {@code VCPU} section's payload). */
    public static void writeVcpu(DataOutputStream out, VcpuState state) throws IOException {
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
        writePresence(out, state.xsave().isPresent());
        if (state.xsave().isPresent()) {
            byte[] region = state.xsave().get().region();
            out.writeInt(region.length);
            out.write(region);
        }
        writePresence(out, state.xcrs().isPresent());
        if (state.xcrs().isPresent()) {
            out.writeInt(state.xcrs().get().size());
            for (XcrEntry xcr : state.xcrs().get()) {
                out.writeInt(xcr.index());
                out.writeLong(xcr.value());
            }
        }
        writePresence(out, state.events().isPresent());
        if (state.events().isPresent()) {
            writeEvents(out, state.events().get());
        }
        writePresence(out, state.tscKhz().isPresent());
        if (state.tscKhz().isPresent()) {
            out.writeInt(state.tscKhz().getAsInt());
        }
    }

    /** Decodes what {@link #writeVcpu} wrote; {@code number} names the vCPU in errors. */
    public static VcpuState readVcpu(ByteBuffer in, int number) throws SnapshotFormatException {
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
            Optional<KvmXsave> xsave = Optional.empty();
            if (readPresence(in, number, "XSAVE area")) {
                int size = in.getInt();
                if (size < KvmXsave.SIZE || size % 4 != 0 || size > in.remaining()) {
                    throw new SnapshotFormatException("vCPU " + number + " claims an XSAVE area of " + size
                            + " bytes");
                }
                byte[] region = new byte[size];
                in.get(region);
                xsave = Optional.of(new KvmXsave(region));
            }
            Optional<List<XcrEntry>> xcrs = Optional.empty();
            if (readPresence(in, number, "XCRs")) {
                int xcrCount = in.getInt();
                if (xcrCount < 0 || xcrCount > KvmXcrs.MAX_XCRS) {
                    throw new SnapshotFormatException("vCPU " + number + " claims " + xcrCount + " XCRs");
                }
                List<XcrEntry> entries = new ArrayList<>();
                for (int i = 0; i < xcrCount; i++) {
                    entries.add(new XcrEntry(in.getInt(), in.getLong()));
                }
                xcrs = Optional.of(entries);
            }
            Optional<KvmVcpuEvents> events = readPresence(in, number, "vCPU events")
                    ? Optional.of(readEvents(in)) : Optional.empty();
            OptionalInt tscKhz = readPresence(in, number, "TSC rate") ? OptionalInt.of(in.getInt())
                    : OptionalInt.empty();
            if (in.hasRemaining()) {
                throw new SnapshotFormatException("vCPU " + number + " section has " + in.remaining()
                        + " bytes more than its state");
            }
            return new VcpuState(identity, KvmRegs.ofValues(regValues), sregs, fpu, xsave, xcrs, events, msrs,
                    mpState, tscKhz);
        } catch (BufferUnderflowException e) {
            throw new SnapshotFormatException("vCPU " + number + " section is shorter than a vCPU state", e);
        }
    }

    /** An optional part of a vCPU state is one byte, 1 when the part follows, 0 when the source had none. */
    private static void writePresence(DataOutputStream out, boolean present) throws IOException {
        out.writeByte(present ? 1 : 0);
    }

    private static boolean readPresence(ByteBuffer in, int number, String part) throws SnapshotFormatException {
        byte presence = in.get();
        if (presence != 0 && presence != 1) {
            throw new SnapshotFormatException("vCPU " + number + " section: the presence byte of its " + part
                    + " is " + presence + ", neither 0 nor 1");
        }
        return presence == 1;
    }

    /** Every field of struct kvm_vcpu_events, in its order; a __u8 as a byte. */
    private static void writeEvents(DataOutputStream out, KvmVcpuEvents events) throws IOException {
        for (int u8 : new int[] {events.exceptionInjected, events.exceptionNr, events.exceptionHasErrorCode,
                events.exceptionPending}) {
            out.writeByte(u8);
        }
        out.writeInt(events.exceptionErrorCode);
        for (int u8 : new int[] {events.interruptInjected, events.interruptNr, events.interruptSoft,
                events.interruptShadow, events.nmiInjected, events.nmiPending, events.nmiMasked}) {
            out.writeByte(u8);
        }
        out.writeInt(events.sipiVector);
        out.writeInt(events.flags);
        for (int u8 : new int[] {events.smiSmm, events.smiPending, events.smiSmmInsideNmi, events.smiLatchedInit,
                events.tripleFaultPending, events.exceptionHasPayload}) {
            out.writeByte(u8);
        }
        out.writeLong(events.exceptionPayload);
    }

    private static KvmVcpuEvents readEvents(ByteBuffer in) {
        KvmVcpuEvents events = new KvmVcpuEvents();
        events.exceptionInjected = Byte.toUnsignedInt(in.get());
        events.exceptionNr = Byte.toUnsignedInt(in.get());
        events.exceptionHasErrorCode = Byte.toUnsignedInt(in.get());
        events.exceptionPending = Byte.toUnsignedInt(in.get());
        events.exceptionErrorCode = in.getInt();
        events.interruptInjected = Byte.toUnsignedInt(in.get());
        events.interruptNr = Byte.toUnsignedInt(in.get());
        events.interruptSoft = Byte.toUnsignedInt(in.get());
        events.interruptShadow = Byte.toUnsignedInt(in.get());
        events.nmiInjected = Byte.toUnsignedInt(in.get());
        events.nmiPending = Byte.toUnsignedInt(in.get());
        events.nmiMasked = Byte.toUnsignedInt(in.get());
        events.sipiVector = in.getInt();
        events.flags = in.getInt();
        events.smiSmm = Byte.toUnsignedInt(in.get());
        events.smiPending = Byte.toUnsignedInt(in.get());
        events.smiSmmInsideNmi = Byte.toUnsignedInt(in.get());
        events.smiLatchedInit = Byte.toUnsignedInt(in.get());
        events.tripleFaultPending = Byte.toUnsignedInt(in.get());
        events.exceptionHasPayload = Byte.toUnsignedInt(in.get());
        events.exceptionPayload = in.getLong();
        return events;
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

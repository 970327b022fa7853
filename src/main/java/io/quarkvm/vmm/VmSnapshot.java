package io.quarkvm.vmm;

import static io.quarkvm.vmm.StateSections.MAX_VCPU_SECTION;
import static io.quarkvm.vmm.StateSections.readSection;
import static io.quarkvm.vmm.StateSections.readStart;
import static io.quarkvm.vmm.StateSections.readVcpu;
import static io.quarkvm.vmm.StateSections.writeSection;
import static io.quarkvm.vmm.StateSections.writeStart;
import static io.quarkvm.vmm.StateSections.writeVcpu;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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
    public static final int FORMAT_VERSION = 2;
    static final int PAGE_SIZE = 4096;
    static final int MAX_RANGE_BYTES = 1 << 20;
    private static final String STREAM = "snapshot";
    private static final byte[] MAGIC = "QVMSNAP1".getBytes(StandardCharsets.US_ASCII);
    private static final byte SECTION_HEADER = 1;
    private static final byte SECTION_MEMORY = 2;
    private static final byte SECTION_VCPU = 3;
    private static final byte SECTION_END = 4;
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
        List<VcpuState> states = vm.pauseAndCaptureVcpuStates();
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
            boolean zero = StateSections.isZero(page);
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

    /** The bytes of the non-zero pages, what the stream carries of memory. */
    public long memoryBytesCarried() {
        return memory.stream().mapToLong(range -> range.bytes().length).sum();
    }

    // ---- encoding ------------------------------------------------------------------------------------------

    /** Encodes this snapshot (see the class comment); does not close {@code out}. */
    public void write(OutputStream out) throws IOException {
        DataOutputStream data = new DataOutputStream(out);
        writeStart(data, MAGIC, FORMAT_VERSION);
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

    /**
     * Decodes what {@link #write} encoded, checking magic, version, every section's checksum and bounds, and that
     * nothing is missing; reads nothing past the end section.
     *
     * @throws SnapshotFormatException the stream is truncated, corrupt, or of another format version
     */
    public static VmSnapshot read(InputStream in) throws IOException {
        DataInputStream data = new DataInputStream(in);
        try {
            readStart(data, STREAM, MAGIC, FORMAT_VERSION);
            ByteBuffer header = readSection(data, STREAM, SECTION_HEADER, "header", 16);
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
                ByteBuffer section = readSection(data, STREAM, SECTION_MEMORY, "memory range " + i,
                        8 + MAX_RANGE_BYTES);
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
                states.add(readVcpu(readSection(data, STREAM, SECTION_VCPU, "vCPU " + i, MAX_VCPU_SECTION), i));
            }
            readSection(data, STREAM, SECTION_END, "end", 0);
            return new VmSnapshot(memoryBytes, ranges, states);
        } catch (EOFException e) {
            throw new SnapshotFormatException("snapshot stream truncated: it ended before its end section", e);
        }
    }
}

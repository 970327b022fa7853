package io.quarkvm.domain;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * sockets × dies × cores × threads vCPU slots, and the x86 rule that turns a slot into its APIC ID (the one QEMU
 * uses: each level gets ceil(log2(count)) bits, so non-power-of-two counts leave holes in the APIC ID space).
 */
public record Topology(int sockets, int dies, int cores, int threads) {

    /** Largest VM we place: the KVM_CAP_MAX_VCPUS of the kernels we know, and what the API promises. */
    public static final int MAX_VCPUS = 1024;

    public Topology {
        requireCount("topology.sockets", sockets);
        requireCount("topology.dies", dies);
        requireCount("topology.cores", cores);
        requireCount("topology.threads", threads);
        long slots = (long) sockets * dies * cores * threads;
        if (slots > MAX_VCPUS) {
            throw new InvalidSpecificationException("topology",
                    "sockets × dies × cores × threads is " + slots + ", more than the " + MAX_VCPUS + " vCPUs a VM may have");
        }
    }

    /** A count of sockets, dies, cores, threads or vCPUs: 1 .. {@link #MAX_VCPUS}. */
    public static int requireCount(String field, long count) {
        if (count < 1 || count > MAX_VCPUS) {
            throw new InvalidSpecificationException(field, field + " must be between 1 and " + MAX_VCPUS + ", was " + count);
        }
        return (int) count;
    }

    public int maxVcpus() {
        return sockets * dies * cores * threads;
    }

    /** Bits the x86 topology gives a level with {@code count} members: ceil(log2(count)), 0 for 1. */
    static int fieldWidth(int count) {
        return 32 - Integer.numberOfLeadingZeros(count - 1);
    }

    /** Bits below the thread field for the core: CPUID 0xB/0x1F level-1 shift (SMT). */
    public int smtShift() {
        return fieldWidth(threads);
    }

    /** Bits below the die field: the shift of the core level in CPUID 0x1F. */
    public int coreShift() {
        return smtShift() + fieldWidth(cores);
    }

    /** Bits below the socket field: the package shift in CPUID 0xB/0x1F. */
    public int packageShift() {
        return coreShift() + fieldWidth(dies);
    }

    public boolean contains(Slot slot) {
        return slot.socket() >= 0 && slot.socket() < sockets
                && slot.die() >= 0 && slot.die() < dies
                && slot.core() >= 0 && slot.core() < cores
                && slot.thread() >= 0 && slot.thread() < threads;
    }

    public Slot requireSlot(Slot slot) {
        if (!contains(slot)) {
            throw new InvalidSpecificationException("slot", "slot (" + slot + ") lies outside the topology "
                    + sockets + " sockets × " + dies + " dies × " + cores + " cores × " + threads + " threads");
        }
        return slot;
    }

    public int apicIdOf(Slot slot) {
        requireSlot(slot);
        return slot.socket() << packageShift()
                | slot.die() << coreShift()
                | slot.core() << smtShift()
                | slot.thread();
    }

    /** The slot's position in topology order (thread fastest, socket slowest): 0 .. maxVcpus-1. */
    public int slotIndexOf(Slot slot) {
        requireSlot(slot);
        return ((slot.socket() * dies + slot.die()) * cores + slot.core()) * threads + slot.thread();
    }

    public Slot slotAt(int index) {
        if (index < 0 || index >= maxVcpus()) {
            throw new InvalidSpecificationException("slot", "slot index " + index + " outside 0.." + (maxVcpus() - 1));
        }
        return new Slot(index / (threads * cores * dies), index / (threads * cores) % dies,
                index / threads % cores, index % threads);
    }

    /** The slot with this APIC ID, if the APIC ID is one of this topology's (holes have none). */
    public Optional<Slot> slotOfApicId(int apicId) {
        if (apicId < 0) {
            return Optional.empty();
        }
        Slot slot = new Slot(apicId >>> packageShift(),
                (apicId >>> coreShift()) & ((1 << fieldWidth(dies)) - 1),
                (apicId >>> smtShift()) & ((1 << fieldWidth(cores)) - 1),
                apicId & ((1 << smtShift()) - 1));
        return contains(slot) ? Optional.of(slot) : Optional.empty();
    }

    public List<Slot> slots() {
        List<Slot> all = new ArrayList<>(maxVcpus());
        for (int i = 0; i < maxVcpus(); i++) {
            all.add(slotAt(i));
        }
        return all;
    }

    /**
     * True when the APIC IDs are exactly 0 .. maxVcpus-1: every level below the topmost one with more than one
     * member has a power-of-two count (the topmost field is the last, so its count leaves no hole).
     */
    public boolean hasDenseApicIds() {
        int[] lowToHigh = {threads, cores, dies, sockets};
        int topmost = lowToHigh.length - 1;
        while (topmost > 0 && lowToHigh[topmost] == 1) {
            topmost--;
        }
        for (int level = 0; level < topmost; level++) {
            if (Integer.bitCount(lowToHigh[level]) != 1) {
                return false;
            }
        }
        return true;
    }
}

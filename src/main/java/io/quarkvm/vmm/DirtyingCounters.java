package io.quarkvm.vmm;

/**
 * A snapshot of the counters the {@linkplain GuestProgram#dirtyMemory dirty-memory} guest keeps in guest memory
 * (layout in {@link GuestLayout}); all zero for any other guest, and until its boot vCPU has reported.
 *
 * @param pagesWritten    pages of the working set rewritten so far
 * @param lastTsc         the guest's TSC at the start of its latest turn, stored once every page due by then was
 *                        written: with {@code pagesWritten} it says how far the guest has got by its own clock
 * @param workingSetPages the 4 KiB pages it rewrites in turn; 0 when it writes none (no TSC rate, or 2 MiB of memory)
 * @param ticksPerPage    TSC ticks between two pages, from the TSC rate the VMM gave it
 */
public record DirtyingCounters(long pagesWritten, long lastTsc, long workingSetPages, long ticksPerPage) {
}

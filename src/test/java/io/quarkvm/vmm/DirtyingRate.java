package io.quarkvm.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;

/**
 * The rate at which the dirty-memory guest ({@link GuestProgram#dirtyMemory}) writes, by the host clock, for tests.
 *
 * @param mibPerSecond pages written between two of the guest's turns about a second apart, in MiB per second of the
 *                     host clock
 * @param tscKhz       how fast the guest's TSC went meanwhile, by the host clock
 * @param seconds      how far apart the two turns were seen
 */
public record DirtyingRate(double mibPerSecond, double tscKhz, double seconds) {

    /** What the guest is asked to write: 64 MiB a second. */
    public static final double ASKED_MIB_PER_SECOND = (double) GuestDirtier.PAGES_PER_SECOND * GuestLayout.PAGE_SIZE
            / (1 << 20);

    /** The rate between the guest's next turn and its first turn at least {@code millis} later. */
    public static DirtyingRate measure(VirtualMachine vm, long millis) throws InterruptedException {
        Sample first = Sample.atNextTurn(vm);
        Thread.sleep(millis);
        Sample second = Sample.atNextTurn(vm);
        double seconds = (second.nanos() - first.nanos()) / 1e9;
        double mib = (second.counters().pagesWritten() - first.counters().pagesWritten())
                * (double) GuestLayout.PAGE_SIZE / (1 << 20);
        return new DirtyingRate(mib / seconds,
                (second.counters().lastTsc() - first.counters().lastTsc()) / seconds / 1000, seconds);
    }

    /** Waits until the guest has written at least {@code pages}; fails after 30 s. */
    public static void awaitPagesWritten(VirtualMachine vm, long pages) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (vm.dirtyingCounters().pagesWritten() < pages) {
            assertThat(System.nanoTime()).as("pages written reach %d (at %s)", pages, vm.dirtyingCounters())
                    .isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    /** The counters and the host clock when they were seen. */
    private record Sample(long nanos, DirtyingCounters counters) {

        /**
         * The counters as the guest's next turn leaves them, seen within a millisecond or so: the guest updates them
         * only at its turns (every 10 ms, or much later on a loaded host), so a reading at any other moment would
         * count a turn's worth of pages at the wrong time. Read twice alike, so that no turn fell between the reads.
         */
        static Sample atNextTurn(VirtualMachine vm) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            long lastTsc = vm.dirtyingCounters().lastTsc();
            while (true) {
                Thread.sleep(1);
                long now = System.nanoTime();
                DirtyingCounters counters = vm.dirtyingCounters();
                if (counters.lastTsc() != lastTsc && counters.equals(vm.dirtyingCounters())) {
                    return new Sample(now, counters);
                }
                assertThat(now).as("the guest takes a turn").isLessThan(deadline);
            }
        }
    }
}

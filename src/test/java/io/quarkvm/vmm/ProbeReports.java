package io.quarkvm.vmm;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A listener that collects what a VM reports, for tests to wait on. */
public final class ProbeReports implements VmListener {

    public final Map<Integer, GuestIdentity> identities = new ConcurrentHashMap<>();
    public final List<String> crashes = new CopyOnWriteArrayList<>();
    public final List<Integer> violations = new CopyOnWriteArrayList<>();
    private final CountDownLatch allReported;
    private final CountDownLatch crashed = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile long lastReportNanos;

    public ProbeReports(int expectedVcpus) {
        this.allReported = new CountDownLatch(expectedVcpus);
    }

    @Override
    public void identityReported(GuestIdentity observed) {
        identities.put(observed.cpuIndex(), observed);
        lastReportNanos = System.nanoTime();
        allReported.countDown();
    }

    @Override
    public void violationReported(int cpuIndex, ProbeRecord record) {
        violations.add(cpuIndex);
    }

    @Override
    public void crashed(String reason) {
        crashes.add(reason);
        crashed.countDown();
    }

    @Override
    public void stopped() {
        stopped.countDown();
    }

    /** Waits for every expected vCPU's report; returns the nanoTime of the last one. */
    long awaitAllReported() throws InterruptedException {
        if (!allReported.await(20, TimeUnit.SECONDS)) {
            throw new AssertionError("only " + identities.size() + " vCPUs reported: " + identities.keySet()
                    + (crashes.isEmpty() ? "" : ", crashes " + crashes));
        }
        return lastReportNanos;
    }

    boolean awaitCrash(long seconds) throws InterruptedException {
        return crashed.await(seconds, TimeUnit.SECONDS);
    }

    public boolean awaitStopped(long seconds) throws InterruptedException {
        return stopped.await(seconds, TimeUnit.SECONDS);
    }

    /** The VM has released everything (or was never built, if false and nothing else happens). */
    public boolean hasStopped() {
        return stopped.getCount() == 0;
    }
}

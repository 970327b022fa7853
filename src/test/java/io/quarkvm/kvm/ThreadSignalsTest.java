package io.quarkvm.kvm;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Kicks that arrive while a vCPU thread is outside KVM_RUN stay pending, and real-time signals queue: every one must
 * be drained before the thread ends, or HotSpot's restoring of the signal mask delivers it and ends the JVM. A
 * regression here kills this test's JVM instead of failing an assertion.
 */
class ThreadSignalsTest {

    @Test
    void everyQueuedKickIsDrainedBeforeTheThreadEnds() throws InterruptedException {
        int kick = ThreadSignals.kickSignal();
        CountDownLatch blocked = new CountDownLatch(1);
        CountDownLatch kicked = new CountDownLatch(1);
        AtomicInteger threadId = new AtomicInteger();
        AtomicBoolean drained = new AtomicBoolean();
        AtomicBoolean leftOver = new AtomicBoolean(true);
        Thread vcpuLike = new Thread(() -> {
            ThreadSignals.blockForCurrentThread(kick);
            threadId.set(ThreadSignals.currentThreadId());
            blocked.countDown();
            try {
                kicked.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            drained.set(ThreadSignals.drainPending(kick));
            leftOver.set(ThreadSignals.drainPending(kick));
        }, "kicked-twice");
        vcpuLike.start();
        blocked.await();
        ThreadSignals.signalThread(ThreadSignals.processId(), threadId.get(), kick);
        ThreadSignals.signalThread(ThreadSignals.processId(), threadId.get(), kick);
        kicked.countDown();
        vcpuLike.join();
        assertThat(drained).isTrue();
        assertThat(leftOver).as("nothing pending after one drain").isFalse();
    }
}

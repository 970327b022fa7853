package io.quarkvm.migration;

import java.util.StringJoiner;

/**
 * How long each step of a migration took on one node, for its log line: each step counts from the end of the one
 * before (or from the creation), so they add up to the whole. Not thread-safe: used by one
 * thread at a time.
 */
public final class StepTimes {

    private final StringJoiner steps = new StringJoiner(", ");
    private long last = System.nanoTime();

    /** Ends the step running since the previous mark, under this name. */
    public void mark(String step) {
        long now = System.nanoTime();
        steps.add(String.format("%s %.1f ms", step, (now - last) / 1e6));
        last = now;
    }

    @Override
    public String toString() {
        return steps.toString();
    }
}

package io.quarkvm.node;

import org.jboss.logging.Logger;

import java.util.Arrays;
import java.util.Optional;

/**
 * The steps of a migration's handover at which a node may die, named so that fault-injection tests can halt a node
 * exactly there (quarkvm.migration.halt-at); each says what must happen when a node dies at it (docs/MIGRATION.md).
 */
public enum MigrationStep {
    /** Source, pre-copy under way: the target discards what it built; the VM is the source's, cold-booted when it returns. */
    SOURCE_PRECOPY,
    /** Source, STOP_AND_COPY recorded, VM paused, last pages and vCPU state about to be sent: as above. */
    SOURCE_STOP_AND_COPY,
    /** Source, the target answered that it runs the VM: the target keeps it. */
    SOURCE_HANDED_OVER,
    /** Target, everything received and verified, handover not yet committed: the source resumes its copy. */
    TARGET_BEFORE_COMMIT,
    /** Target, handover committed, VM not yet resumed: the target cold-boots it when it returns; the source drops its copy. */
    TARGET_AFTER_COMMIT;

    private static final Logger LOG = Logger.getLogger(MigrationStep.class);

    /** Halts the JVM at once, as SIGKILL would, when {@code haltAt} names this step. */
    public void haltIfAt(Optional<String> haltAt) {
        if (haltAt.isPresent() && haltAt.get().equalsIgnoreCase(name())) {
            LOG.errorf("quarkvm.migration.halt-at=%s: halting this node now (fault injection)", name());
            Runtime.getRuntime().halt(137);
        }
    }

    /** Fails at start-up on a step that does not exist, rather than never halting. */
    public static void requireKnown(Optional<String> haltAt) {
        haltAt.ifPresent(step -> {
            if (Arrays.stream(values()).noneMatch(known -> known.name().equalsIgnoreCase(step))) {
                throw new IllegalArgumentException("quarkvm.migration.halt-at=" + step + " is none of "
                        + Arrays.toString(values()));
            }
        });
    }
}

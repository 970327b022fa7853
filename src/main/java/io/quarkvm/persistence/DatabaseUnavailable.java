package io.quarkvm.persistence;

import java.sql.SQLException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * Tells a failure to reach the database (down, restarting, recovering, the connection cut) from a failure of what
 * was asked of it. The first says nothing about the request or the VMs: try again later; nothing that failed so was
 * acknowledged.
 */
public final class DatabaseUnavailable {

    /** SQLSTATE class 08: connection exception (refused, broken, lost). */
    private static final String CONNECTION_EXCEPTION = "08";
    /** SQLSTATE 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, recovering). */
    private static final String SERVER_GOING_OR_COMING = "57P";

    private DatabaseUnavailable() {
    }

    /**
     * Looks through causes and suppressed exceptions: a commit cut off by the outage reaches the caller as the
     * transaction manager's RollbackException, with the driver's exception suppressed in it.
     */
    public static boolean causedBy(Throwable failure) {
        return causedBy(failure, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private static boolean causedBy(Throwable failure, Set<Throwable> seen) {
        if (failure == null || !seen.add(failure)) {
            return false;
        }
        if (failure instanceof SQLException sql && sql.getSQLState() != null
                && (sql.getSQLState().startsWith(CONNECTION_EXCEPTION) || sql.getSQLState().startsWith(SERVER_GOING_OR_COMING))) {
            return true;
        }
        for (Throwable suppressed : failure.getSuppressed()) {
            if (causedBy(suppressed, seen)) {
                return true;
            }
        }
        return causedBy(failure.getCause(), seen);
    }
}

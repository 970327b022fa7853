package io.quarkvm.migration;

/** A target's refusal of a migration stream, with the HTTP status that tells the source why (409 or 422). */
public class MigrationRefusedException extends RuntimeException {

    private final int status;

    public MigrationRefusedException(int status, String reason) {
        super(reason);
        this.status = status;
    }

    public int status() {
        return status;
    }
}

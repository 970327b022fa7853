package io.quarkvm.vmm;

import java.io.IOException;

/** A snapshot stream that {@link VmSnapshot#read} refuses: truncated, corrupt, or of another format version. */
public final class SnapshotFormatException extends IOException {

    public SnapshotFormatException(String message) {
        super(message);
    }

    public SnapshotFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.quarkvm.persistence;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One service instance owns a data directory: it holds an exclusive lock on {@code <data-dir>/quarkvm.lock} for
 * its whole life, taken before anything else in the directory is touched. The operating system releases the lock
 * when the process ends, however it ends (SIGKILL included), and never hands it to the PostgreSQL server the
 * process started; so whatever an instance finds running on a directory it could lock was left there by a dead
 * instance. The file says who holds it, for the message a second instance gives.
 */
public final class DataDirectoryLock {

    private static final String FILE_NAME = "quarkvm.lock";

    /** Held for the life of the process: a channel that became unreachable would be closed, and the lock with it. */
    private static DataDirectoryLock heldByThisProcess;

    private final Path directory;
    /** The lock is the channel's: it lasts while the channel is open. */
    private final FileChannel channel;

    private DataDirectoryLock(Path directory, FileChannel channel) {
        this.directory = directory;
        this.channel = channel;
    }

    /**
     * Locks {@code dataDir} (creating it) for this process, and records {@code holder} (who this process is) in the
     * lock file.
     *
     * @throws DataDirectoryInUseException when another live process holds it
     */
    public static synchronized DataDirectoryLock acquire(Path dataDir, String holder) {
        Path directory = dataDir.toAbsolutePath().normalize();
        Path file = directory.resolve(FILE_NAME);
        try {
            Files.createDirectories(directory);
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException heldInThisProcess) {
                lock = null;
            }
            if (lock == null) {
                channel.close();
                throw new DataDirectoryInUseException(directory, Files.readString(file, StandardCharsets.UTF_8).strip());
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((holder + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(true);
            heldByThisProcess = new DataDirectoryLock(directory, channel);
            return heldByThisProcess;
        } catch (IOException e) {
            throw new UncheckedIOException("could not lock the data directory " + directory, e);
        }
    }

    /** The locked directory, absolute. */
    public Path directory() {
        return directory;
    }

    /** Another live instance owns the directory; nothing in it was touched. */
    public static final class DataDirectoryInUseException extends RuntimeException {

        DataDirectoryInUseException(Path directory, String holder) {
            super("data directory " + directory + " is in use by another quarkvm instance ("
                    + (holder.isEmpty() ? "holder unknown" : holder) + "); stop that instance first, "
                    + "or give this one its own quarkvm.data-dir");
        }
    }
}

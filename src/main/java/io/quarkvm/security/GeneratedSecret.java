package io.quarkvm.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

/**
 * A secret a node makes for itself in its data directory on the first start and reads on every later one. The file
 * is created with mode 0600 (never wider for an instant) under a temporary name and renamed into place, so a crash
 * leaves either no file or a whole one.
 */
record GeneratedSecret(String value, Path file, boolean createdNow) {

    private static final int RANDOM_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    static GeneratedSecret readOrCreate(Path file) {
        try {
            if (Files.exists(file)) {
                String value = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (value.isEmpty()) {
                    throw new IllegalStateException(file + " is empty: delete it to have a new secret made");
                }
                return new GeneratedSecret(value, file, false);
            }
            byte[] random = new byte[RANDOM_BYTES];
            RANDOM.nextBytes(random);
            String value = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.createDirectories(file.getParent());
            Path partial = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".partial", OWNER_ONLY);
            try {
                Files.writeString(partial, value + "\n", StandardCharsets.UTF_8);
                Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(partial);
            }
            return new GeneratedSecret(value, file, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create " + file + ": " + e.getMessage(), e);
        }
    }
}

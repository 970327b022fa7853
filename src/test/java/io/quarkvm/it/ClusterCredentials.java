package io.quarkvm.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;

/**
 * What README.md has an operator make for nodes on an external database: an operator token, a tokens file holding
 * only its SHA-256, and a cluster secret.
 */
record ClusterCredentials(String operatorToken, Path tokensFile, String clusterSecret) {

    private static final SecureRandom RANDOM = new SecureRandom();

    static ClusterCredentials generate(Path directory) {
        String token = randomHex();
        try {
            Path tokensFile = Files.createTempFile(directory, "tokens-", "");
            Files.writeString(tokensFile, "# made by the test\noperator " + sha256Hex(token) + "\n");
            return new ClusterCredentials(token, tokensFile, randomHex());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Map<String, String> properties() {
        return Map.of("quarkvm.auth.tokens-file", tokensFile.toString(), "quarkvm.auth.cluster-secret", clusterSecret);
    }

    /** What `printf %s "$T" | sha256sum` prints. */
    static String sha256Hex(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String randomHex() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}

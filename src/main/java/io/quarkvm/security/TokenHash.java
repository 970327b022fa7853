package io.quarkvm.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The SHA-256 of a token, which is all the service keeps of it: a leaked tokens file or heap dump gives no token,
 * and hashes of equal length compare in constant time whatever was presented.
 */
final class TokenHash {

    static final int HEX_LENGTH = 64;

    private final byte[] bytes;

    private TokenHash(byte[] bytes) {
        this.bytes = bytes;
    }

    static TokenHash of(String token) {
        try {
            return new TokenHash(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    /** {@code hex} is 64 hexadecimal digits, as {@code sha256sum} prints them. */
    static TokenHash ofHex(String hex) {
        if (hex.length() != HEX_LENGTH || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new IllegalArgumentException("not a SHA-256 in hexadecimal (64 digits)");
        }
        return new TokenHash(HexFormat.of().parseHex(hex));
    }

    /** Constant time: how much of the hash matches is not told by how long the comparison takes. */
    boolean matches(TokenHash other) {
        return MessageDigest.isEqual(bytes, other.bytes);
    }
}

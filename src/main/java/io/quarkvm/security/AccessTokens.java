package io.quarkvm.security;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The API's tokens, by hash, each with its role. A tokens file has one {@code <role> <sha256 hex of the token>} per
 * line; blank lines and lines starting with {@code #} are skipped. A line that is not so is refused with its number
 * only: it may hold a token pasted in clear.
 */
final class AccessTokens {

    private static final Set<String> API_ROLES = Set.of(Roles.VIEWER, Roles.OPERATOR);

    /** Who a token belongs to, for the log: its role and where it was configured, never the token. */
    record Holder(String name, String role) {
    }

    private record Entry(TokenHash hash, Holder holder) {
    }

    private final List<Entry> entries;

    private AccessTokens(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    static AccessTokens of(String role, String name, String token) {
        return new AccessTokens(List.of(new Entry(TokenHash.of(token), new Holder(name, role))));
    }

    static AccessTokens read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokens file " + file + ": " + e.getMessage(), e);
        }
        List<Entry> entries = new ArrayList<>();
        for (int number = 1; number <= lines.size(); number++) {
            String line = lines.get(number - 1).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] fields = line.split("\\s+");
            String where = file + " line " + number;
            if (fields.length != 2 || !API_ROLES.contains(fields[0])) {
                throw new IllegalArgumentException(where + " is not '<role> <sha256 hex of the token>' with role "
                        + String.join(" or ", API_ROLES.stream().sorted().toList()));
            }
            TokenHash hash;
            try {
                hash = TokenHash.ofHex(fields[1]);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
            }
            entries.add(new Entry(hash, new Holder(fields[0] + " token of " + where, fields[0])));
        }
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("the tokens file " + file + " has no token: nobody could call the API");
        }
        return new AccessTokens(entries);
    }

    /**
     * Whose token this is. Every entry is compared, each in constant time, so the time taken tells neither whether
     * nor where a token matched.
     */
    Optional<Holder> holderOf(TokenHash presented) {
        Holder found = null;
        for (Entry entry : entries) {
            if (entry.hash().matches(presented) && found == null) {
                found = entry.holder();
            }
        }
        return Optional.ofNullable(found);
    }
}

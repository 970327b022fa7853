package io.quarkvm.api;

import io.quarkvm.service.ExpectedVersion;
import jakarta.ws.rs.core.EntityTag;

/** ETag and If-Match: the ETag is the VM's version as a strong tag, "3". */
final class VersionHeaders {

    private VersionHeaders() {
    }

    static EntityTag etag(long version) {
        return new EntityTag(Long.toString(version));
    }

    /**
     * Parses If-Match: absent or {@code *} means any version; a weak tag ({@code W/"3"}) is kept as one, which no
     * version matches (strong comparison, RFC 9110 §13.1.1); a list of tags is not accepted.
     */
    static ExpectedVersion expected(String ifMatch) {
        if (ifMatch == null || ifMatch.isBlank() || ifMatch.trim().equals("*")) {
            return ExpectedVersion.ANY;
        }
        String tag = ifMatch.trim();
        if (tag.startsWith("W/\"")) {
            return ExpectedVersion.WEAK;
        }
        if (tag.length() >= 2 && tag.startsWith("\"") && tag.endsWith("\"")) {
            tag = tag.substring(1, tag.length() - 1);
        }
        try {
            return ExpectedVersion.of(Long.parseLong(tag));
        } catch (NumberFormatException e) {
            throw new BadRequestException("If-Match", "If-Match must be an ETag this API gave out, like \"3\"; was " + ifMatch);
        }
    }
}

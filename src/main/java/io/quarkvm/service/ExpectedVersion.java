package io.quarkvm.service;

import java.util.OptionalLong;

/**
 * An optional If-Match precondition; absent means "apply to whatever version is current". If-Match compares
 * strongly (RFC 9110 §13.1.1), so a weak tag is a precondition that no version meets.
 */
public record ExpectedVersion(OptionalLong version, boolean weak) {

    public static final ExpectedVersion ANY = new ExpectedVersion(OptionalLong.empty(), false);
    public static final ExpectedVersion WEAK = new ExpectedVersion(OptionalLong.empty(), true);

    public static ExpectedVersion of(long version) {
        return new ExpectedVersion(OptionalLong.of(version), false);
    }

    public void check(long current) {
        if (weak) {
            throw new StaleVersionException("If-Match compares ETags strongly and a weak ETag (W/...) never matches; "
                    + "send the ETag as this API gave it, like \"" + current + "\"");
        }
        if (version.isPresent() && version.getAsLong() != current) {
            throw new StaleVersionException("If-Match names version " + version.getAsLong()
                    + " but the VM is at version " + current);
        }
    }
}

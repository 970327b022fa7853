package io.quarkvm.service;

import java.util.OptionalLong;

/** An optional If-Match precondition; absent means "apply to whatever version is current". */
public record ExpectedVersion(OptionalLong version) {

    public static final ExpectedVersion ANY = new ExpectedVersion(OptionalLong.empty());

    public static ExpectedVersion of(long version) {
        return new ExpectedVersion(OptionalLong.of(version));
    }

    public void check(long current) {
        if (version.isPresent() && version.getAsLong() != current) {
            throw new StaleVersionException(version.getAsLong(), current);
        }
    }
}

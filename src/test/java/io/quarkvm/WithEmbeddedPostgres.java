package io.quarkvm;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkvm.persistence.EmbeddedPostgresTestResource;

/** Declares the tests' database once, for every @QuarkusTest. */
@QuarkusTestResource(EmbeddedPostgresTestResource.class)
public final class WithEmbeddedPostgres {
    private WithEmbeddedPostgres() {
    }
}

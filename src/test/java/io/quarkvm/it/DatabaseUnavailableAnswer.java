package io.quarkvm.it;

import io.restassured.response.Response;

import static org.assertj.core.api.Assertions.assertThat;

/** What a client is told while the database is unreachable: 503, when to come back, and nothing internal. */
final class DatabaseUnavailableAnswer {

    private static final String[] INTERNALS = {"jdbc", "postgres", "localhost", "127.0.0.1", "sql", "select ", "insert ",
            "exception", "org.", "java.", "hibernate", "agroal"};

    private DatabaseUnavailableAnswer() {
    }

    static void assertUnavailable(Response response, int databasePort) {
        assertUnavailable(response.statusCode(), response.header("Retry-After"), response.contentType(), response.asString(),
                databasePort);
    }

    static void assertUnavailable(int status, String retryAfter, String contentType, String body, int databasePort) {
        assertThat(status).as("status of %s", body).isEqualTo(503);
        assertThat(retryAfter).as("Retry-After").isNotNull().matches("[1-9][0-9]*");
        assertThat(contentType).as("Content-Type").startsWith("application/problem+json");
        assertThat(body).contains("\"status\":503").doesNotContain(Integer.toString(databasePort));
        for (String internal : INTERNALS) {
            assertThat(body.toLowerCase()).as("body names nothing internal").doesNotContain(internal);
        }
    }
}

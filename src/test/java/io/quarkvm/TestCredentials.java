package io.quarkvm;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.restassured.RestAssured;
import io.restassured.filter.Filter;
import io.restassured.specification.RequestSpecification;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The tests' callers, declared once for every @QuarkusTest: the service reads a tokens file of hashed lines, as in
 * production, and every REST Assured request a test makes carries the operator token unless it sets its own
 * Authorization header ({@link OperatorTokenByDefault}). A test that sends no token at all says so with
 * {@link #anonymous()}; a raw HTTP client adds {@link #OPERATOR_AUTHORIZATION} itself.
 */
@QuarkusTestResource(TestCredentials.class)
public class TestCredentials implements QuarkusTestResourceLifecycleManager {

    public static final String OPERATOR = "quarkvm-test-operator-token";
    public static final String VIEWER = "quarkvm-test-viewer-token";
    public static final String CLUSTER_SECRET = "quarkvm-test-cluster-secret-of-at-least-32-characters";
    public static final String OPERATOR_AUTHORIZATION = "Bearer " + OPERATOR;

    @Override
    public Map<String, String> start() {
        try {
            Path tokensFile = Files.createTempFile("quarkvm-test-tokens", "");
            Files.writeString(tokensFile, "# role  sha256 of the token\n"
                    + "operator " + sha256Hex(OPERATOR) + "\n\n"
                    + "viewer   " + sha256Hex(VIEWER) + "\n");
            tokensFile.toFile().deleteOnExit();
            return Map.of("quarkvm.auth.tokens-file", tokensFile.toString(),
                    "quarkvm.auth.cluster-secret", CLUSTER_SECRET);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
    }

    /** A request without any Authorization header. */
    public static RequestSpecification anonymous() {
        return RestAssured.given().noFilters();
    }

    /** A request with the viewer's token. */
    public static RequestSpecification viewer() {
        return RestAssured.given().auth().oauth2(VIEWER);
    }

    /** What {@code printf %s "$T" | sha256sum} prints, as README.md has the operator write a tokens file. */
    public static String sha256Hex(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The default request of every @QuarkusTest carries the operator token; set before each test method. */
    public static final class OperatorTokenByDefault implements io.quarkus.test.junit.callback.QuarkusTestBeforeEachCallback {
        private static final Filter OPERATOR_UNLESS_AUTHORIZED = (request, response, context) -> {
            if (!request.getHeaders().hasHeaderWithName("Authorization")) {
                request.header("Authorization", OPERATOR_AUTHORIZATION);
            }
            return context.next(request, response);
        };

        @Override
        public void beforeEach(io.quarkus.test.junit.callback.QuarkusTestMethodContext context) {
            // A filter and not a default RequestSpecification: a specification built here would also fix the port
            // before Quarkus has set the one the application listens on.
            if (!RestAssured.filters().contains(OPERATOR_UNLESS_AUTHORIZED)) {
                RestAssured.filters(OPERATOR_UNLESS_AUTHORIZED);
            }
        }
    }
}

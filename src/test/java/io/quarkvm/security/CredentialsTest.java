package io.quarkvm.security;

import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkvm.TestCredentials;
import io.quarkvm.config.QuarkvmConfig;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tokens files, generated secrets, and what a node on an external database (as here: none runs) refuses. */
class CredentialsTest {

    @TempDir
    Path directory;

    @Test
    void aTokensFileOfHashedLinesGivesEachTokenItsRole() throws IOException {
        Path file = tokensFile("""
                # comments and blank lines are skipped

                operator %s
                  viewer\t%s
                """.formatted(TestCredentials.sha256Hex("op-token"), TestCredentials.sha256Hex("view-token").toUpperCase()));
        AccessTokens tokens = AccessTokens.read(file);
        assertThat(tokens.holderOf(TokenHash.of("op-token"))).hasValueSatisfying(holder -> {
            assertThat(holder.role()).isEqualTo(Roles.OPERATOR);
            assertThat(holder.name()).contains("line 3").doesNotContain("op-token");
        });
        assertThat(tokens.holderOf(TokenHash.of("view-token"))).map(AccessTokens.Holder::role).contains(Roles.VIEWER);
        assertThat(tokens.holderOf(TokenHash.of("other"))).isEmpty();
        assertThat(tokens.holderOf(TokenHash.of(TestCredentials.sha256Hex("op-token")))).isEmpty();
    }

    @Test
    void aLineThatIsNotRoleAndHashIsRefusedByNumberWithoutEchoingIt() throws IOException {
        Path clear = tokensFile("operator " + TestCredentials.sha256Hex("a") + "\noperator my-clear-secret-token\n");
        assertThatThrownBy(() -> AccessTokens.read(clear)).hasMessageContaining("line 2")
                .hasMessageNotContaining("my-clear-secret-token");
        Path unknownRole = tokensFile("admin " + TestCredentials.sha256Hex("a") + "\n");
        assertThatThrownBy(() -> AccessTokens.read(unknownRole)).hasMessageContaining("line 1")
                .hasMessageContaining("operator or viewer");
        Path empty = tokensFile("# nothing yet\n\n");
        assertThatThrownBy(() -> AccessTokens.read(empty)).hasMessageContaining("has no token");
        assertThatThrownBy(() -> AccessTokens.read(directory.resolve("missing"))).hasMessageContaining("missing");
    }

    @Test
    void aGeneratedSecretIsOwnerOnlyAndReusedOnTheNextStart() throws IOException {
        Path file = directory.resolve("data").resolve("operator.token");
        GeneratedSecret first = GeneratedSecret.readOrCreate(file);
        assertThat(first.createdNow()).isTrue();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(first.value()).hasSizeGreaterThanOrEqualTo(Credentials.CLUSTER_SECRET_MIN_LENGTH);
        try (var left = Files.list(file.getParent())) {
            assertThat(left).as("no partial file left").containsExactly(file);
        }
        GeneratedSecret again = GeneratedSecret.readOrCreate(file);
        assertThat(again.createdNow()).isFalse();
        assertThat(again.value()).isEqualTo(first.value());
        assertThat(GeneratedSecret.readOrCreate(directory.resolve("other")).value()).isNotEqualTo(first.value());
    }

    @Test
    void onAnExternalDatabaseANodeWithoutTokensFileOrClusterSecretRefusesToStart() throws IOException {
        assertThatThrownBy(() -> new Credentials(config(Map.of("quarkvm.auth.cluster-secret", "s".repeat(32)))))
                .hasMessageContaining("QUARKVM_AUTH_TOKENS_FILE").hasMessageContaining("external database");
        Path tokens = tokensFile("operator " + TestCredentials.sha256Hex("a") + "\n");
        assertThatThrownBy(() -> new Credentials(config(Map.of("quarkvm.auth.tokens-file", tokens.toString()))))
                .hasMessageContaining("QUARKVM_CLUSTER_SECRET").hasMessageContaining("external database");
        assertThatThrownBy(() -> new Credentials(config(Map.of("quarkvm.auth.tokens-file", tokens.toString(),
                "quarkvm.auth.cluster-secret", "change-me")))).hasMessageContaining("shorter than 32")
                .hasMessageNotContaining("change-me");
        assertThat(directory.resolve("data")).doesNotExist();
    }

    @Test
    void theClusterSecretAuthenticatesANodeAndTheTokensTheirHolders() throws IOException {
        Path tokens = tokensFile("viewer " + TestCredentials.sha256Hex("v") + "\n");
        Credentials credentials = new Credentials(config(Map.of("quarkvm.auth.tokens-file", tokens.toString(),
                "quarkvm.auth.cluster-secret", "c".repeat(40))));
        assertThat(credentials.holderOf("c".repeat(40))).map(AccessTokens.Holder::role).contains(Roles.NODE);
        assertThat(credentials.holderOf("v")).map(AccessTokens.Holder::role).contains(Roles.VIEWER);
        assertThat(credentials.holderOf("c".repeat(39))).isEmpty();
    }

    private Path tokensFile(String content) throws IOException {
        Path file = Files.createTempFile(directory, "tokens", "");
        Files.writeString(file, content);
        return file;
    }

    private QuarkvmConfig config(Map<String, String> properties) {
        Map<String, String> all = new HashMap<>(properties);
        all.put("quarkvm.data-dir", directory.resolve("data").toString());
        return new SmallRyeConfigBuilder()
                .withSources(new PropertiesConfigSource(all, "test", 300))
                .withConverter(Duration.class, 100, new DurationConverter())
                .withMapping(QuarkvmConfig.class)
                .build()
                .getConfigMapping(QuarkvmConfig.class);
    }
}

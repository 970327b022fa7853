package io.quarkvm.security;

import io.quarkus.runtime.Startup;
import io.quarkvm.config.QuarkvmConfig;
import io.quarkvm.persistence.EmbeddedPostgres;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Who may call this node: the API's tokens and the cluster secret, settled at start-up so that a node that could
 * not check a caller never serves one. What is not configured is generated in the data directory only when the
 * service runs on its embedded database, i.e. alone; a node on an external database is one of a cluster whose nodes
 * must accept the same tokens and share one secret, which no node can make up for the others, so it refuses to
 * start instead (README.md, "Authentication").
 */
@Startup
@ApplicationScoped
public class Credentials {

    private static final Logger LOG = Logger.getLogger(Credentials.class);
    static final String OPERATOR_TOKEN_FILE = "operator.token";
    static final String CLUSTER_SECRET_FILE = "cluster.secret";
    /** 256 bits as hexadecimal, what `openssl rand -hex 32` gives: a placeholder such as "change-me" is refused. */
    static final int CLUSTER_SECRET_MIN_LENGTH = 32;

    private final AccessTokens apiTokens;
    private final String clusterSecret;
    private final TokenHash clusterSecretHash;

    Credentials(QuarkvmConfig config) {
        boolean alone = EmbeddedPostgres.ownedByThisProcess().isPresent();
        Path dataDir = config.dataDir().toAbsolutePath().normalize();
        this.apiTokens = config.auth().tokensFile().map(AccessTokens::read)
                .orElseGet(() -> generatedOperatorToken(dataDir, alone));
        this.clusterSecret = config.auth().clusterSecret().map(Credentials::checkedClusterSecret)
                .orElseGet(() -> generatedClusterSecret(dataDir, alone));
        this.clusterSecretHash = TokenHash.of(clusterSecret);
    }

    /** What this node presents as its bearer token when it calls another node (the migration stream). */
    public String clusterSecret() {
        return clusterSecret;
    }

    /** The API role and name of whoever presents this bearer token, or of the node that presents the cluster secret. */
    Optional<AccessTokens.Holder> holderOf(String token) {
        TokenHash presented = TokenHash.of(token);
        boolean node = clusterSecretHash.matches(presented);
        Optional<AccessTokens.Holder> apiHolder = apiTokens.holderOf(presented);
        return node ? Optional.of(new AccessTokens.Holder("cluster node", Roles.NODE)) : apiHolder;
    }

    private static AccessTokens generatedOperatorToken(Path dataDir, boolean alone) {
        if (!alone) {
            throw new IllegalStateException("quarkvm.auth.tokens-file (QUARKVM_AUTH_TOKENS_FILE) is not set. With an "
                    + "external database this node is one of a cluster, whose nodes must all accept the same tokens, "
                    + "so it makes none up: give every node the same file of '<role> <sha256 hex of the token>' lines "
                    + "(README.md, \"Authentication\")");
        }
        GeneratedSecret token = GeneratedSecret.readOrCreate(dataDir.resolve(OPERATOR_TOKEN_FILE));
        LOG.infof("%s the operator token (no tokens file is configured): %s, readable by this user only; send it as "
                + "'Authorization: Bearer <token>'", token.createdNow() ? "generated" : "using", token.file());
        return AccessTokens.of(Roles.OPERATOR, "operator token of " + token.file(), token.value());
    }

    private static String generatedClusterSecret(Path dataDir, boolean alone) {
        if (!alone) {
            throw new IllegalStateException("quarkvm.auth.cluster-secret (QUARKVM_CLUSTER_SECRET) is not set. With an "
                    + "external database this node is one of a cluster, whose nodes must all hold the same secret to "
                    + "call each other: give every node the same one, at least " + CLUSTER_SECRET_MIN_LENGTH
                    + " characters (`openssl rand -hex 32`)");
        }
        GeneratedSecret secret = GeneratedSecret.readOrCreate(dataDir.resolve(CLUSTER_SECRET_FILE));
        if (secret.createdNow()) {
            LOG.infof("generated the cluster secret (none is configured): %s, readable by this user only", secret.file());
        }
        return secret.value();
    }

    private static String checkedClusterSecret(String secret) {
        if (secret.strip().length() < CLUSTER_SECRET_MIN_LENGTH) {
            throw new IllegalStateException("quarkvm.auth.cluster-secret (QUARKVM_CLUSTER_SECRET) is shorter than "
                    + CLUSTER_SECRET_MIN_LENGTH + " characters: make one with `openssl rand -hex 32`");
        }
        return secret.strip();
    }
}

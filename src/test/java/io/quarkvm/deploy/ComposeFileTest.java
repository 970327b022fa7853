package io.quarkvm.deploy;

import io.quarkvm.config.QuarkvmConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** docker-compose.yml and its no-KVM override against the service and its image. */
class ComposeFileTest {

    private static final Path COMPOSE = Path.of("docker-compose.yml");
    private static final Path NO_KVM = Path.of("docker-compose.no-kvm.yml");
    private static final Map<String, String> ENVIRONMENT = Map.of("QUARKVM_DB_PASSWORD", "sample-password",
            "QUARKVM_CLUSTER_SECRET", "sample-cluster-secret", "QUARKVM_API_TOKENS_FILE", "./sample-tokens");
    private static final Pattern README_IMAGE_TAG = Pattern.compile("docker build -f \\S+ -t (\\S+) \\.");

    private final Map<String, Object> compose = ComposeFile.load(COMPOSE, ENVIRONMENT);

    @Test
    void thereIsNoDefaultDatabasePasswordClusterSecretOrTokensFile() {
        for (String required : List.of("QUARKVM_DB_PASSWORD", "QUARKVM_CLUSTER_SECRET", "QUARKVM_API_TOKENS_FILE")) {
            Map<String, String> without = new HashMap<>(ENVIRONMENT);
            without.remove(required);
            assertThatThrownBy(() -> ComposeFile.load(COMPOSE, without)).hasMessageContaining(required);
        }
    }

    @Test
    void everyNodeReadsTheTokensFileTheComposeSecretMountsAndSharesTheClusterSecret() {
        for (Map<String, Object> node : nodes().values()) {
            QuarkvmConfig config = ServiceConfiguration.fromEnvironment(environment(node)).getConfigMapping(QuarkvmConfig.class);
            Path tokensFile = config.auth().tokensFile().orElseThrow();
            @SuppressWarnings("unchecked")
            Map<String, Object> mounted = ((List<Map<String, Object>>) node.get("secrets")).stream()
                    .filter(secret -> Path.of(secret.get("target").toString()).equals(tokensFile)).findFirst()
                    .orElseThrow(() -> new AssertionError("no secret mounted at " + tokensFile));
            assertThat(topLevel("secrets")).containsEntry(mounted.get("source").toString(),
                    Map.of("file", ENVIRONMENT.get("QUARKVM_API_TOKENS_FILE")));
            assertThat(config.auth().clusterSecret()).contains(ENVIRONMENT.get("QUARKVM_CLUSTER_SECRET"));
        }
    }

    @Test
    void twoNodesOfTheImageTheReadmeBuildsRunBesidePostgres() throws IOException {
        Matcher tag = README_IMAGE_TAG.matcher(Files.readString(Path.of("README.md")));
        assertThat(tag.find()).isTrue();
        assertThat(nodes()).hasSizeGreaterThanOrEqualTo(2);
        assertThat(nodes().values()).allSatisfy(node -> assertThat(node.get("image")).isEqualTo(tag.group(1)));
        assertThat(services()).containsKey("postgres");
        assertThat(services().values()).allSatisfy(service -> assertThat(service.get("restart"))
                .isEqualTo("unless-stopped"));
    }

    @Test
    void everyNodeSetsOnlyWhatTheServiceReadsAndGetsItsOwnNameUrlAndDataDirectory() {
        Set<String> names = new HashSet<>();
        Set<String> dataVolumes = new HashSet<>();
        for (Map.Entry<String, Map<String, Object>> node : nodes().entrySet()) {
            Map<String, String> environment = environment(node.getValue());
            assertThat(environment.keySet()).isSubsetOf(ServiceConfiguration.environmentNames());
            QuarkvmConfig config = ServiceConfiguration.fromEnvironment(environment).getConfigMapping(QuarkvmConfig.class);
            names.add(config.node().name().orElseThrow());
            int httpPort = ServiceConfiguration.fromEnvironment(environment).getValue("quarkus.http.port", Integer.class);
            assertThat(config.node().url()).contains("http://" + node.getKey() + ":" + httpPort);
            String dataVolume = volumeAt(node.getValue(), config.dataDir().toString());
            assertThat(topLevel("volumes")).containsKey(dataVolume);
            dataVolumes.add(dataVolume);
        }
        assertThat(names).as("node names").hasSize(nodes().size());
        assertThat(dataVolumes).as("one instance per data directory").hasSize(nodes().size());
    }

    @Test
    void nodesPublishTheirHttpPortOnTheLoopbackAndReportReadinessThroughIt() {
        Set<String> hostPorts = new HashSet<>();
        for (Map<String, Object> node : nodes().values()) {
            int httpPort = ServiceConfiguration.fromEnvironment(environment(node)).getValue("quarkus.http.port",
                    Integer.class);
            assertThat(httpPort).isEqualTo(Dockerfile.jvm().exposedPort());
            for (Object port : (List<?>) node.get("ports")) {
                String[] parts = port.toString().split(":");
                assertThat(parts).hasSize(3);
                assertThat(parts[0]).as("plain HTTP carries the bearer tokens: loopback only").isEqualTo("127.0.0.1");
                assertThat(Integer.parseInt(parts[2])).isEqualTo(httpPort);
                hostPorts.add(parts[1]);
            }
            List<String> test = strings(healthcheck(node).get("test"));
            assertThat(test.get(0)).isEqualTo("CMD");
            assertThat(test).contains("http://localhost:" + httpPort + "/q/health/ready");
            assertThat(List.of(Dockerfile.jvm().substitute(String.join(" ", Dockerfile.jvm().all("RUN").stream()
                    .map(Dockerfile.Instruction::arguments).toList())).split("\\s+")))
                    .as("the image has the health check's program").contains(test.get(1));
        }
        assertThat(hostPorts).hasSize(nodes().size());
    }

    @Test
    void nodesWaitForAHealthyPostgresAndUseItsDatabaseAndUser() {
        Map<String, Object> postgres = services().get("postgres");
        assertThat(strings(healthcheck(postgres).get("test"))).contains("pg_isready");
        assertThat(topLevel("volumes")).containsKey(volumeAt(postgres, "/var/lib/postgresql/data"));
        Map<String, String> database = environment(postgres);
        for (Map<String, Object> node : nodes().values()) {
            assertThat(node.get("depends_on")).isEqualTo(Map.of("postgres", Map.of("condition", "service_healthy")));
            Map<String, String> environment = environment(node);
            URI jdbc = URI.create(environment.get("QUARKUS_DATASOURCE_JDBC_URL").substring("jdbc:".length()));
            assertThat(jdbc.getHost()).isEqualTo("postgres");
            assertThat(jdbc.getPort()).isEqualTo(5432);
            assertThat(jdbc.getPath()).isEqualTo("/" + database.get("POSTGRES_DB"));
            assertThat(environment.get("QUARKUS_DATASOURCE_USERNAME")).isEqualTo(database.get("POSTGRES_USER"));
            assertThat(environment.get("QUARKUS_DATASOURCE_PASSWORD")).isEqualTo(database.get("POSTGRES_PASSWORD"))
                    .isEqualTo(ENVIRONMENT.get("QUARKVM_DB_PASSWORD"));
        }
    }

    @Test
    void nodesOpenTheHostsKvmDeviceWhereTheServiceLooksAsMembersOfTheImagesKvmGroup() {
        String kvmDevice = ServiceConfiguration.defaults().node().kvmDevice();
        for (Map<String, Object> node : nodes().values()) {
            assertThat(strings(node.get("devices"))).containsExactly("/dev/kvm:" + kvmDevice);
            assertThat(strings(node.get("group_add"))).containsExactly(Dockerfile.jvm().argDefault("KVM_GID")
                    .orElseThrow());
        }
        Map<String, String> ownGroup = new HashMap<>(ENVIRONMENT);
        ownGroup.put("KVM_GID", "993");
        assertThat(ComposeFile.load(COMPOSE, ownGroup))
                .extracting(file -> ((Map<?, ?>) ((Map<?, ?>) file.get("services")).get(nodes().keySet().iterator()
                        .next())).get("group_add")).isEqualTo(List.of("993"));
    }

    @Test
    void theNoKvmOverrideTakesTheDeviceAwayFromEveryNodeAndNothingElse() {
        Map<String, Object> override = ComposeFile.load(NO_KVM, ENVIRONMENT);
        assertThat(override.keySet()).containsExactly("services");
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> services = (Map<String, Map<String, Object>>) override.get("services");
        assertThat(services.keySet()).isEqualTo(nodes().keySet());
        assertThat(services.values()).allSatisfy(service -> assertThat(service)
                .isEqualTo(Map.of("devices", ComposeFile.Reset.VALUE, "group_add", ComposeFile.Reset.VALUE)));
    }

    @Test
    void interpolationFollowsCompose() {
        Map<String, String> environment = Map.of("SET", "value", "EMPTY", "");
        assertThat(ComposeFile.interpolate("${SET:-x} ${UNSET:-x} ${EMPTY:-x} ${EMPTY-x} $SET $$SET", environment))
                .isEqualTo("value x x  value $SET");
        assertThatThrownBy(() -> ComposeFile.interpolate("${EMPTY:?say why}", environment)).hasMessageContaining("say why");
    }

    @SuppressWarnings("unchecked")
    private Map<String, Map<String, Object>> services() {
        return (Map<String, Map<String, Object>>) compose.get("services");
    }

    /** Every service but PostgreSQL: the quarkvm nodes. */
    private Map<String, Map<String, Object>> nodes() {
        Map<String, Map<String, Object>> nodes = new LinkedHashMap<>(services());
        nodes.remove("postgres");
        return nodes;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> topLevel(String key) {
        return (Map<String, Object>) compose.get(key);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> environment(Map<String, Object> service) {
        Map<String, String> environment = new LinkedHashMap<>();
        ((Map<String, Object>) service.get("environment")).forEach((name, value) -> environment.put(name,
                String.valueOf(value)));
        return environment;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> healthcheck(Map<String, Object> service) {
        return (Map<String, Object>) service.get("healthcheck");
    }

    private static List<String> strings(Object list) {
        return ((List<?>) list).stream().map(String::valueOf).toList();
    }

    private static String volumeAt(Map<String, Object> service, String path) {
        return ((List<?>) service.get("volumes")).stream().map(Object::toString)
                .filter(volume -> volume.endsWith(":" + path)).map(volume -> volume.substring(0, volume.indexOf(':')))
                .findFirst().orElseThrow(() -> new AssertionError("no volume at " + path));
    }
}

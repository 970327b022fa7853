package io.quarkvm.deploy;

import io.quarkvm.config.QuarkvmConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The names the deployment tests accept come from where the service reads them. */
class ServiceConfigurationTest {

    @Test
    void everyQuarkvmPropertyTheReadmeDocumentsIsOneTheServiceMaps() {
        assertThat(ServiceConfiguration.documentedProperties()).filteredOn(property -> property.startsWith("quarkvm."))
                .isNotEmpty()
                .isSubsetOf(ServiceConfiguration.mappedProperties());
    }

    @Test
    void environmentNamesFollowSmallRyeConfigsRule() {
        assertThat(ServiceConfiguration.environmentName("quarkvm.node.kvm-device")).isEqualTo("QUARKVM_NODE_KVM_DEVICE");
        assertThat(ServiceConfiguration.fromEnvironment(Map.of("QUARKVM_NODE_KVM_DEVICE", "/dev/other"))
                .getConfigMapping(QuarkvmConfig.class).node().kvmDevice()).isEqualTo("/dev/other");
        assertThat(ServiceConfiguration.environmentNames()).contains("QUARKUS_DATASOURCE_JDBC_URL", "QUARKUS_HTTP_PORT",
                "QUARKVM_NODE_NAME", "QUARKVM_AUTH_TOKENS_FILE", "QUARKVM_AUTH_CLUSTER_SECRET", "QUARKVM_CLUSTER_SECRET");
    }

    @Test
    void theClusterSecretArrivesUnderEitherName() {
        assertThat(ServiceConfiguration.fromEnvironment(Map.of("QUARKVM_CLUSTER_SECRET", "from-the-issue"))
                .getConfigMapping(QuarkvmConfig.class).auth().clusterSecret()).contains("from-the-issue");
        assertThat(ServiceConfiguration.fromEnvironment(Map.of("QUARKVM_AUTH_CLUSTER_SECRET", "from-the-mapping"))
                .getConfigMapping(QuarkvmConfig.class).auth().clusterSecret()).contains("from-the-mapping");
        assertThat(ServiceConfiguration.defaults().auth().clusterSecret()).isEmpty();
        assertThat(ServiceConfiguration.defaults().auth().protectMetrics()).isFalse();
    }
}

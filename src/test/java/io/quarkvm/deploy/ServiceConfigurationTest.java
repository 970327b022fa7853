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
                "QUARKVM_NODE_NAME");
    }
}

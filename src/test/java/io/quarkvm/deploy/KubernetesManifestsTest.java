package io.quarkvm.deploy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.quarkvm.config.QuarkvmConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collector;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** k8s/ against the service it deploys: every object in the API model, and the wiring between them. */
class KubernetesManifestsTest {

    private static final String KVM_DEVICE_RESOURCE = "devices.kubevirt.io/kvm";
    private static final Pattern ENV_REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    private final List<HasMetadata> base = KubernetesManifests.build(KubernetesManifests.BASE);
    private final List<HasMetadata> hostPathKvm = KubernetesManifests.build(KubernetesManifests.HOSTPATH_KVM);

    @Test
    void theStrictReaderRefusesAFieldTheApiDoesNotHave() {
        assertThatThrownBy(() -> KubernetesManifests.toModel(KubernetesManifests.yamlObject("""
                apiVersion: v1
                kind: Service
                metadata: {name: x}
                spec:
                  ports: [{port: 8080, targetPort: http, protocoll: TCP}]
                """))).hasMessageContaining("protocoll");
        assertThatThrownBy(() -> KubernetesManifests.toModel(KubernetesManifests.yamlObject("""
                apiVersion: apps/v1
                kind: DeamonSet
                metadata: {name: x}
                """))).hasMessageContaining("DeamonSet");
    }

    @Test
    void theBaseKustomizationListsEveryManifestBesideIt() throws IOException {
        try (Stream<Path> files = Files.list(KubernetesManifests.BASE)) {
            assertThat(files.filter(file -> file.toString().endsWith(".yaml"))
                    .filter(file -> !file.getFileName().toString().equals("kustomization.yaml"))
                    .map(Path::normalize))
                    .containsExactlyInAnyOrderElementsOf(KubernetesManifests.resourceFiles(KubernetesManifests.BASE));
        }
    }

    @Test
    void everyNamespacedObjectLivesInTheNamespaceTheBaseCreates() {
        for (List<HasMetadata> objects : List.of(base, hostPathKvm)) {
            List<Namespace> namespaces = ofType(objects, Namespace.class);
            assertThat(namespaces).hasSize(1);
            String namespace = namespaces.get(0).getMetadata().getName();
            assertThat(objects).filteredOn(object -> !(object instanceof Namespace))
                    .allSatisfy(object -> assertThat(object.getMetadata().getNamespace())
                            .as(describe(object)).isEqualTo(namespace));
            assertThat(objects.stream().map(KubernetesManifestsTest::describe)).doesNotHaveDuplicates();
        }
    }

    @Test
    void workloadSelectorsMatchTheirPodsAndServicesSelectPodsOnPortsTheyOpen() {
        for (List<HasMetadata> objects : List.of(base, hostPathKvm)) {
            Map<String, PodTemplateSpec> pods = podTemplates(objects);
            ofType(objects, DaemonSet.class).forEach(set -> assertThat(set.getSpec().getTemplate().getMetadata()
                    .getLabels()).containsAllEntriesOf(set.getSpec().getSelector().getMatchLabels()));
            ofType(objects, StatefulSet.class).forEach(set -> assertThat(set.getSpec().getTemplate().getMetadata()
                    .getLabels()).containsAllEntriesOf(set.getSpec().getSelector().getMatchLabels()));
            for (Service service : ofType(objects, Service.class)) {
                List<PodTemplateSpec> selected = pods.values().stream().filter(pod -> pod.getMetadata().getLabels()
                        .entrySet().containsAll(service.getSpec().getSelector().entrySet())).toList();
                assertThat(selected).as("pods of service " + service.getMetadata().getName()).hasSize(1);
                for (ServicePort port : service.getSpec().getPorts()) {
                    ContainerPort target = containerPort(selected.get(0).getSpec(), port.getTargetPort());
                    assertThat(target.getContainerPort()).as("service port " + port.getName())
                            .isEqualTo(port.getPort());
                }
            }
        }
    }

    @Test
    void thePostgresStatefulSetKeepsItsDataOnAClaimAndIsReachedThroughItsHeadlessService() {
        StatefulSet postgres = only(ofType(base, StatefulSet.class));
        Container container = only(postgres.getSpec().getTemplate().getSpec().getContainers());
        String claim = only(postgres.getSpec().getVolumeClaimTemplates()).getMetadata().getName();
        VolumeMount data = container.getVolumeMounts().stream().filter(mount -> mount.getName().equals(claim))
                .findFirst().orElseThrow();
        assertThat(env(container, "PGDATA")).startsWith(data.getMountPath() + "/");

        Service headless = serviceNamed(base, postgres.getSpec().getServiceName());
        assertThat(headless.getSpec().getClusterIP()).isEqualTo("None");
        assertThat(postgres.getSpec().getTemplate().getMetadata().getLabels())
                .containsAllEntriesOf(headless.getSpec().getSelector());

        // The service's datasource is this server, as the user it creates.
        Container quarkvm = quarkvmContainer(base);
        URI jdbc = URI.create(secretValue(base, secretRef(quarkvm, "QUARKUS_DATASOURCE_JDBC_URL")).substring(5));
        assertThat(jdbc.getHost()).isEqualTo(headless.getMetadata().getName());
        assertThat(jdbc.getPort()).isEqualTo(only(headless.getSpec().getPorts()).getPort());
        assertThat(jdbc.getPath()).isEqualTo("/" + env(container, "POSTGRES_DB"));
        assertThat(secretRef(quarkvm, "QUARKUS_DATASOURCE_USERNAME")).isEqualTo(secretRef(container, "POSTGRES_USER"));
        assertThat(secretRef(quarkvm, "QUARKUS_DATASOURCE_PASSWORD"))
                .isEqualTo(secretRef(container, "POSTGRES_PASSWORD"));
    }

    @Test
    void everySecretKeyAContainerReadsIsInASecretManifest() {
        for (List<HasMetadata> objects : List.of(base, hostPathKvm)) {
            for (PodTemplateSpec pod : podTemplates(objects).values()) {
                for (Container container : pod.getSpec().getContainers()) {
                    container.getEnv().stream().filter(env -> env.getValueFrom() != null
                                    && env.getValueFrom().getSecretKeyRef() != null)
                            .forEach(env -> assertThat(secretValue(objects, env.getValueFrom().getSecretKeyRef()))
                                    .as(env.getName()).isNotNull());
                }
                for (Volume volume : pod.getSpec().getVolumes()) {
                    if (volume.getSecret() != null) {
                        Secret secret = secretNamed(objects, volume.getSecret().getSecretName());
                        volume.getSecret().getItems().forEach(item -> assertThat(keys(secret)).contains(item.getKey()));
                    }
                }
            }
        }
    }

    @Test
    void theNodeContainerSetsOnlyWhatTheServiceReadsAndItArrivesInItsConfiguration() {
        Container container = quarkvmContainer(base);
        Set<String> read = ServiceConfiguration.environmentNames();
        Set<String> defined = new HashSet<>();
        Set<String> referenced = new HashSet<>();
        Map<String, String> environment = new LinkedHashMap<>();
        for (EnvVar env : container.getEnv()) {
            String value = env.getValue() != null ? env.getValue() : sampleValue(env);
            Matcher reference = ENV_REFERENCE.matcher(value);
            while (reference.find()) {
                assertThat(defined).as("$(" + reference.group(1) + ") in " + env.getName() + " is defined before it")
                        .contains(reference.group(1));
                referenced.add(reference.group(1));
            }
            environment.put(env.getName(), ENV_REFERENCE.matcher(value).replaceAll(m -> environment.get(m.group(1))));
            defined.add(env.getName());
        }
        assertThat(defined).as("variables neither read by the service nor used in another variable")
                .allMatch(name -> read.contains(name) || referenced.contains(name));

        QuarkvmConfig config = ServiceConfiguration.fromEnvironment(environment).getConfigMapping(QuarkvmConfig.class);
        assertThat(config.node().name()).contains("sample-spec.nodeName");
        assertThat(config.node().url()).contains("http://sample-status.podIP:" + httpPort(container));
        assertThat(config.dataDir()).isEqualTo(Path.of(environment.get("QUARKVM_DATA_DIR")));
        // QuarkvmMain starts the embedded PostgreSQL exactly when this is unset.
        assertThat(ServiceConfiguration.fromEnvironment(environment)
                .getOptionalValue("quarkus.datasource.jdbc.url", String.class)).isPresent();
    }

    @Test
    void theNodeReadsItsApiTokensFromTheMountedSecretAndTheClusterSecretFromItsSecret() {
        Container container = quarkvmContainer(base);
        PodSpec pod = only(ofType(base, DaemonSet.class)).getSpec().getTemplate().getSpec();
        Path tokensFile = Path.of(env(container, "QUARKVM_AUTH_TOKENS_FILE"));
        VolumeMount mount = container.getVolumeMounts().stream()
                .filter(candidate -> tokensFile.startsWith(candidate.getMountPath())).collect(only());
        assertThat(mount.getReadOnly()).isTrue();
        Volume volume = pod.getVolumes().stream().filter(candidate -> candidate.getName().equals(mount.getName()))
                .collect(only());
        assertThat(volume.getSecret().getSecretName()).isEqualTo("quarkvm-api-tokens");
        assertThat(volume.getSecret().getItems()).filteredOn(item -> Path.of(mount.getMountPath()).resolve(item.getPath())
                .equals(tokensFile)).extracting(item -> item.getKey()).containsExactly("tokens");
        assertThat(secretRef(container, "QUARKVM_CLUSTER_SECRET").getName()).isEqualTo("quarkvm-cluster");

        Map<String, String> environment = Map.of("QUARKVM_AUTH_TOKENS_FILE", tokensFile.toString(),
                "QUARKVM_CLUSTER_SECRET", secretValue(base, secretRef(container, "QUARKVM_CLUSTER_SECRET")));
        QuarkvmConfig config = ServiceConfiguration.fromEnvironment(environment).getConfigMapping(QuarkvmConfig.class);
        assertThat(config.auth().tokensFile()).contains(tokensFile);
        assertThat(config.auth().clusterSecret()).contains(environment.get("QUARKVM_CLUSTER_SECRET"));
    }

    @Test
    void theNodeIsNamedAfterItsKubernetesNodeAndReachedAtItsPodAddress() {
        DaemonSet daemonSet = only(ofType(base, DaemonSet.class));
        Container container = quarkvmContainer(base);
        assertThat(fieldRef(container, "QUARKVM_NODE_NAME")).isEqualTo("spec.nodeName");
        Matcher address = ENV_REFERENCE.matcher(env(container, "QUARKVM_NODE_URL"));
        assertThat(address.find()).isTrue();
        assertThat(fieldRef(container, address.group(1))).isEqualTo("status.podIP");
        assertThat(daemonSet.getSpec().getTemplate().getSpec().getNodeSelector()).containsEntry("quarkvm.io/kvm", "true");
        assertThat(daemonSet.getSpec().getUpdateStrategy().getRollingUpdate().getMaxSurge())
                .as("two pods on one node would claim one node name").isEqualTo(new IntOrString(0));
    }

    @Test
    void probesAskTheServicesHealthEndpointsOnItsHttpPort() {
        Container container = quarkvmContainer(base);
        PodSpec pod = only(ofType(base, DaemonSet.class)).getSpec().getTemplate().getSpec();
        assertThat(probePath(container.getLivenessProbe())).isEqualTo("/q/health/live");
        assertThat(probePath(container.getReadinessProbe())).isEqualTo("/q/health/ready");
        assertThat(probePath(container.getStartupProbe())).isEqualTo("/q/health/started");
        for (Probe probe : List.of(container.getLivenessProbe(), container.getReadinessProbe(),
                container.getStartupProbe())) {
            assertThat(containerPort(pod, probe.getHttpGet().getPort()).getContainerPort())
                    .isEqualTo(httpPort(container));
        }
    }

    @Test
    void theHttpPortIsTheOneTheServiceListensOnAndTheImageExposes() {
        Container container = quarkvmContainer(base);
        assertThat(httpPort(container)).isEqualTo(Dockerfile.jvm().exposedPort());
        assertThat(container.getPorts()).extracting(ContainerPort::getContainerPort).containsExactly(httpPort(container));
    }

    @Test
    void everyContainerHasResourceRequestsWithinItsLimits() {
        for (PodTemplateSpec pod : podTemplates(base).values()) {
            for (Container container : pod.getSpec().getContainers()) {
                Map<String, Quantity> requests = container.getResources().getRequests();
                Map<String, Quantity> limits = container.getResources().getLimits();
                assertThat(requests).as(container.getName()).containsKeys("cpu", "memory");
                assertThat(limits).as(container.getName()).containsKeys("cpu", "memory");
                requests.forEach((resource, request) -> assertThat(Quantity.getAmountInBytes(request))
                        .as(container.getName() + " " + resource)
                        .isLessThanOrEqualTo(Quantity.getAmountInBytes(limits.get(resource))));
            }
        }
    }

    @Test
    void theBasePassesTheRestrictedPodSecurityStandardAndGetsKvmFromTheDevicePlugin() {
        Namespace namespace = only(ofType(base, Namespace.class));
        assertThat(namespace.getMetadata().getLabels()).containsEntry("pod-security.kubernetes.io/enforce", "restricted");
        for (PodTemplateSpec pod : podTemplates(base).values()) {
            PodSpec spec = pod.getSpec();
            PodSecurityContext podSecurity = spec.getSecurityContext();
            assertThat(podSecurity.getRunAsNonRoot()).isTrue();
            assertThat(podSecurity.getRunAsUser()).isPositive();
            assertThat(podSecurity.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
            assertThat(spec.getHostNetwork()).isNotEqualTo(Boolean.TRUE);
            assertThat(spec.getHostPID()).isNotEqualTo(Boolean.TRUE);
            assertThat(spec.getHostIPC()).isNotEqualTo(Boolean.TRUE);
            assertThat(spec.getAutomountServiceAccountToken()).isFalse();
            assertThat(spec.getVolumes()).allSatisfy(volume -> assertThat(volume.getHostPath()).isNull());
            for (Container container : spec.getContainers()) {
                SecurityContext security = container.getSecurityContext();
                assertThat(security.getPrivileged()).isNotEqualTo(Boolean.TRUE);
                assertThat(security.getAllowPrivilegeEscalation()).isFalse();
                assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
                assertThat(security.getCapabilities().getAdd()).isEmpty();
                assertThat(security.getReadOnlyRootFilesystem()).isTrue();
                assertThat(container.getVolumeMounts()).extracting(VolumeMount::getMountPath).contains("/tmp");
            }
        }
        Container quarkvm = quarkvmContainer(base);
        assertThat(quarkvm.getResources().getLimits()).containsEntry(KVM_DEVICE_RESOURCE, new Quantity("1"));
        assertThat(quarkvm.getVolumeMounts()).extracting(VolumeMount::getMountPath)
                .contains(env(quarkvm, "QUARKVM_DATA_DIR"));
    }

    @Test
    void theNodeRunsAsTheImagesUserWithTheKvmGroupTheImageIsBuiltFor() {
        PodSecurityContext security = only(ofType(base, DaemonSet.class)).getSpec().getTemplate().getSpec()
                .getSecurityContext();
        Dockerfile image = Dockerfile.jvm();
        assertThat(security.getRunAsUser()).isEqualTo(image.userId());
        assertThat(security.getSupplementalGroups()).containsExactly(image.argDefault("KVM_GID").map(Long::parseLong)
                .orElseThrow());
    }

    @Test
    void theHostPathVariantMountsTheNodesKvmDeviceWhereTheServiceOpensItAndSaysItIsPrivileged() {
        DaemonSet daemonSet = only(ofType(hostPathKvm, DaemonSet.class));
        PodSpec pod = daemonSet.getSpec().getTemplate().getSpec();
        Container container = quarkvmContainer(hostPathKvm);
        Volume kvm = pod.getVolumes().stream().filter(volume -> volume.getHostPath() != null).collect(only());
        assertThat(kvm.getHostPath().getType()).isEqualTo("CharDevice");
        String kvmDevice = ServiceConfiguration.defaults().node().kvmDevice();
        assertThat(kvm.getHostPath().getPath()).isEqualTo(kvmDevice);
        assertThat(container.getVolumeMounts()).filteredOn(mount -> mount.getName().equals(kvm.getName()))
                .extracting(VolumeMount::getMountPath).containsExactly(kvmDevice);
        assertThat(container.getResources().getLimits()).doesNotContainKey(KVM_DEVICE_RESOURCE);
        assertThat(container.getSecurityContext().getPrivileged()).isTrue();
        assertThat(only(ofType(hostPathKvm, Namespace.class)).getMetadata().getLabels())
                .containsEntry("pod-security.kubernetes.io/enforce", "privileged");
        // Everything else is the base's.
        assertThat(pod.getSecurityContext()).isEqualTo(only(ofType(base, DaemonSet.class)).getSpec().getTemplate()
                .getSpec().getSecurityContext());
        assertThat(container.getEnv()).isEqualTo(quarkvmContainer(base).getEnv());
    }

    private static String sampleValue(EnvVar env) {
        if (env.getValueFrom().getFieldRef() != null) {
            return "sample-" + env.getValueFrom().getFieldRef().getFieldPath();
        }
        return "sample-" + env.getValueFrom().getSecretKeyRef().getKey();
    }

    private static int httpPort(Container container) {
        return Integer.parseInt(env(container, "QUARKUS_HTTP_PORT"));
    }

    private static String probePath(Probe probe) {
        return probe.getHttpGet().getPath();
    }

    private static ContainerPort containerPort(PodSpec pod, IntOrString port) {
        return pod.getContainers().stream().flatMap(container -> container.getPorts().stream())
                .filter(candidate -> port.getStrVal() != null ? port.getStrVal().equals(candidate.getName())
                        : port.getIntVal().equals(candidate.getContainerPort()))
                .collect(only());
    }

    private static String env(Container container, String name) {
        return envVar(container, name).getValue();
    }

    private static EnvVar envVar(Container container, String name) {
        return container.getEnv().stream().filter(env -> env.getName().equals(name)).collect(only());
    }

    private static String fieldRef(Container container, String name) {
        return envVar(container, name).getValueFrom().getFieldRef().getFieldPath();
    }

    private static SecretKeySelector secretRef(Container container, String name) {
        return envVar(container, name).getValueFrom().getSecretKeyRef();
    }

    private static String secretValue(List<HasMetadata> objects, SecretKeySelector selector) {
        Secret secret = secretNamed(objects, selector.getName());
        assertThat(keys(secret)).as("keys of secret " + selector.getName()).contains(selector.getKey());
        return Optional.ofNullable(secret.getStringData()).map(data -> data.get(selector.getKey()))
                .orElseGet(() -> new String(Base64.getDecoder().decode(secret.getData()
                        .get(selector.getKey()))));
    }

    private static Set<String> keys(Secret secret) {
        Set<String> keys = new HashSet<>();
        Optional.ofNullable(secret.getStringData()).ifPresent(data -> keys.addAll(data.keySet()));
        Optional.ofNullable(secret.getData()).ifPresent(data -> keys.addAll(data.keySet()));
        return keys;
    }

    private static Secret secretNamed(List<HasMetadata> objects, String name) {
        return ofType(objects, Secret.class).stream().filter(secret -> secret.getMetadata().getName().equals(name))
                .collect(only());
    }

    private static Service serviceNamed(List<HasMetadata> objects, String name) {
        return ofType(objects, Service.class).stream().filter(service -> service.getMetadata().getName().equals(name))
                .collect(only());
    }

    private static Container quarkvmContainer(List<HasMetadata> objects) {
        return only(only(ofType(objects, DaemonSet.class)).getSpec().getTemplate().getSpec().getContainers());
    }

    private static Map<String, PodTemplateSpec> podTemplates(List<HasMetadata> objects) {
        Map<String, PodTemplateSpec> pods = new LinkedHashMap<>();
        ofType(objects, DaemonSet.class).forEach(set -> pods.put(describe(set), set.getSpec().getTemplate()));
        ofType(objects, StatefulSet.class).forEach(set -> pods.put(describe(set), set.getSpec().getTemplate()));
        return pods;
    }

    private static <T> List<T> ofType(List<HasMetadata> objects, Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static String describe(HasMetadata object) {
        return object.getKind() + " " + object.getMetadata().getName();
    }

    private static <T> T only(List<T> list) {
        assertThat(list).hasSize(1);
        return list.get(0);
    }

    private static <T> Collector<T, ?, T> only() {
        return Collectors.collectingAndThen(Collectors.toList(),
                KubernetesManifestsTest::only);
    }
}

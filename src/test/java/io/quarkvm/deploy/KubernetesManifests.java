package io.quarkvm.deploy;

import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.BeanDeserializerBuilder;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.internal.KubernetesDeserializer;
import io.fabric8.zjsonpatch.JsonPatch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reads k8s/ as {@code kubectl kustomize} would, for the kustomization features these files use (resources, JSON 6902
 * patches with a target), and turns every object into the fabric8 Kubernetes API model, strictly: a field the API
 * does not have is an error, where fabric8 would otherwise keep it aside as an "additional property".
 */
final class KubernetesManifests {

    static final Path BASE = Path.of("k8s", "base");
    static final Path HOSTPATH_KVM = Path.of("k8s", "hostpath-kvm");

    private static final Set<String> KUSTOMIZATION_FIELDS = Set.of("apiVersion", "kind", "resources", "patches");
    private static final ObjectMapper YAML = YAMLMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final ObjectMapper STRICT = strictModelMapper();
    private static final KubernetesDeserializer KINDS = new KubernetesDeserializer();

    private KubernetesManifests() {
    }

    /** The objects a kustomization directory builds, in the Kubernetes API model. */
    static List<HasMetadata> build(Path kustomizationDirectory) {
        return buildTrees(kustomizationDirectory).stream().map(KubernetesManifests::toModel).toList();
    }

    /** The files a kustomization lists as resources. */
    static List<Path> resourceFiles(Path kustomizationDirectory) {
        List<Path> files = new ArrayList<>();
        for (JsonNode resource : kustomization(kustomizationDirectory).path("resources")) {
            files.add(kustomizationDirectory.resolve(resource.asText()).normalize());
        }
        return files;
    }

    static JsonNode kustomization(Path directory) {
        JsonNode kustomization = readOne(directory.resolve("kustomization.yaml"));
        kustomization.fieldNames().forEachRemaining(field -> {
            if (!KUSTOMIZATION_FIELDS.contains(field)) {
                throw new IllegalArgumentException(directory + "/kustomization.yaml uses '" + field
                        + "', which this reader does not apply");
            }
        });
        return kustomization;
    }

    /** One object, strictly, as the class fabric8 registers for its apiVersion and kind. */
    static HasMetadata toModel(JsonNode object) {
        String apiVersion = object.path("apiVersion").asText();
        String kind = object.path("kind").asText();
        Class<? extends KubernetesResource> type = KINDS.getRegisteredKind(apiVersion, kind);
        if (type == null || !HasMetadata.class.isAssignableFrom(type)) {
            throw new IllegalArgumentException("no Kubernetes API type " + apiVersion + " " + kind);
        }
        try {
            return (HasMetadata) STRICT.treeToValue(object, type);
        } catch (IOException e) {
            throw new IllegalArgumentException(apiVersion + " " + kind + " " + object.path("metadata").path("name")
                    + ": " + e.getMessage(), e);
        }
    }

    private static List<JsonNode> buildTrees(Path directory) {
        JsonNode kustomization = kustomization(directory);
        List<JsonNode> objects = new ArrayList<>();
        for (Path resource : resourceFiles(directory)) {
            objects.addAll(Files.isDirectory(resource) ? buildTrees(resource) : readAll(resource));
        }
        for (JsonNode patch : kustomization.path("patches")) {
            JsonNode operations = readOne(directory.resolve(patch.path("path").asText()));
            String kind = patch.path("target").path("kind").asText();
            String name = patch.path("target").path("name").asText();
            int patched = 0;
            for (int i = 0; i < objects.size(); i++) {
                JsonNode object = objects.get(i);
                if (object.path("kind").asText().equals(kind)
                        && object.path("metadata").path("name").asText().equals(name)) {
                    objects.set(i, JsonPatch.apply(operations, object));
                    patched++;
                }
            }
            if (patched != 1) {
                throw new IllegalArgumentException("patch " + patch + " matches " + patched + " objects, not one");
            }
        }
        return objects;
    }

    private static JsonNode readOne(Path file) {
        try {
            return YAML.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Every document of a multi-document file (readValues would also split a top-level list: not used for them). */
    static List<JsonNode> readAll(Path file) {
        try (MappingIterator<JsonNode> documents = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            List<JsonNode> all = new ArrayList<>();
            documents.forEachRemaining(document -> {
                if (document != null && !document.isMissingNode() && !document.isNull()) {
                    all.add(document);
                }
            });
            return all;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    private static ObjectMapper strictModelMapper() {
        SimpleModule noAdditionalProperties = new SimpleModule().setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public BeanDeserializerBuilder updateBuilder(DeserializationConfig config, BeanDescription description,
                                                         BeanDeserializerBuilder builder) {
                // fabric8's model keeps unknown fields in an @JsonAnySetter map; without it they fail.
                builder.setAnySetter(null);
                return builder;
            }
        });
        return new ObjectMapper().registerModule(noAdditionalProperties)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    }

    static ObjectNode yamlObject(String yaml) {
        try {
            return (ObjectNode) YAML.readTree(yaml);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

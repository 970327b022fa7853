package io.quarkvm.deploy;

import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkvm.config.QuarkvmConfig;
import io.smallrye.config.ConfigMappings;
import io.smallrye.config.EnvConfigSource;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import io.smallrye.config.common.utils.StringUtil;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the service reads from its environment, taken from where the service itself takes it: the
 * {@link QuarkvmConfig} mapping, application.properties, and the README's configuration table for the Quarkus
 * properties that only an operator sets (the datasource). Environment names follow SmallRye Config's rule.
 */
final class ServiceConfiguration {

    private static final String PREFIX = "quarkvm";
    private static final String README_SECTION = "## Configuration";
    /** A row of that section's table: | `property` ... | `ENV` ... | default | meaning | */
    private static final Pattern README_ROW = Pattern.compile("^\\| (`[^|]+) \\| `[A-Z_]+`");
    private static final Pattern BACKTICKED = Pattern.compile("`([^`]+)`");
    /** ${NAME} or ${NAME:default} where NAME is an environment variable's (upper case) name. */
    private static final Pattern ENVIRONMENT_REFERENCE = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)(:[^}]*)?}");

    private ServiceConfiguration() {
    }

    /** Every quarkvm.* property the mapping has, e.g. quarkvm.node.kvm-device. */
    static Set<String> mappedProperties() {
        return new TreeSet<>(ConfigMappings.getProperties(new ConfigMappings.ConfigClass(QuarkvmConfig.class, PREFIX))
                .keySet());
    }

    /** The properties the README's configuration table documents (`.password` after `x.username` is `x.password`). */
    static Set<String> documentedProperties() {
        Set<String> properties = new TreeSet<>();
        List<String> readme = readLines(Path.of("README.md"));
        int section = readme.indexOf(README_SECTION);
        if (section < 0) {
            throw new IllegalStateException("README.md has no '" + README_SECTION + "' section");
        }
        for (String line : readme.subList(section + 1, readme.size())) {
            if (line.startsWith("#")) {
                break;
            }
            Matcher row = README_ROW.matcher(line);
            if (!row.find()) {
                continue;
            }
            Matcher name = BACKTICKED.matcher(row.group(1));
            String previous = null;
            while (name.find()) {
                String property = name.group(1);
                if (property.startsWith(".") && previous != null) {
                    property = previous.substring(0, previous.lastIndexOf('.')) + property;
                }
                properties.add(property);
                previous = property;
            }
        }
        return properties;
    }

    static Properties applicationProperties() {
        Properties properties = new Properties();
        try (InputStream in = ServiceConfiguration.class.getResourceAsStream("/application.properties")) {
            properties.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return properties;
    }

    /**
     * The environment variables the service reads: those of its properties, and those its application.properties
     * names in an expression ({@code quarkvm.auth.cluster-secret=${QUARKVM_CLUSTER_SECRET:}}).
     */
    static Set<String> environmentNames() {
        Set<String> names = new TreeSet<>();
        mappedProperties().forEach(property -> names.add(environmentName(property)));
        documentedProperties().forEach(property -> names.add(environmentName(property)));
        Properties application = applicationProperties();
        application.stringPropertyNames().stream()
                .filter(property -> !property.startsWith("%"))
                .forEach(property -> names.add(environmentName(property)));
        application.values().forEach(value -> {
            Matcher reference = ENVIRONMENT_REFERENCE.matcher(value.toString());
            while (reference.find()) {
                names.add(reference.group(1));
            }
        });
        return names;
    }

    static String environmentName(String property) {
        return StringUtil.replaceNonAlphanumericByUnderscores(property).toUpperCase(Locale.ROOT);
    }

    /**
     * The configuration the service builds from this environment (as {@code QuarkvmMain} does, before Quarkus
     * starts): what a deployment's environment turns into.
     */
    static SmallRyeConfig fromEnvironment(Map<String, String> environment) {
        return new SmallRyeConfigBuilder()
                .addDefaultInterceptors()
                .withSources(new EnvConfigSource(environment, 300))
                .withSources(new PropertiesConfigSource(applicationProperties(), "application.properties", 250))
                .withConverter(Duration.class, 100, new DurationConverter())
                .withMapping(QuarkvmConfig.class)
                .withValidateUnknown(false)
                .build();
    }

    static QuarkvmConfig defaults() {
        return fromEnvironment(Map.of()).getConfigMapping(QuarkvmConfig.class);
    }

    static int httpPort() {
        return Integer.parseInt(applicationProperties().getProperty("quarkus.http.port"));
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

package io.quarkvm.deploy;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.AbstractConstruct;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.Tag;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Compose file as Docker Compose reads it: YAML with merge keys ({@code <<}) and Compose's {@code !reset} tag,
 * then {@code ${NAME}}, {@code ${NAME:-default}} and {@code ${NAME:?error}} interpolated from an environment.
 */
final class ComposeFile {

    /** What {@code !reset} leaves in a value: the override removes the base file's value. */
    enum Reset { VALUE }

    private static final Pattern VARIABLE = Pattern.compile(
            "\\$\\$|\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?}|\\$([A-Za-z_][A-Za-z0-9_]*)");

    private ComposeFile() {
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> load(Path file, Map<String, String> environment) {
        return (Map<String, Object>) interpolate(read(file), environment);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> read(Path file) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        try (Reader reader = Files.newBufferedReader(file)) {
            return (Map<String, Object>) new Yaml(new ComposeConstructor(options)).load(reader);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String interpolate(String text, Map<String, String> environment) {
        Matcher variable = VARIABLE.matcher(text);
        StringBuilder result = new StringBuilder();
        while (variable.find()) {
            String replacement;
            if (variable.group().equals("$$")) {
                replacement = "$";
            } else {
                String name = variable.group(1) != null ? variable.group(1) : variable.group(4);
                String operator = variable.group(2);
                String value = environment.get(name);
                boolean unset = operator != null && operator.startsWith(":") ? value == null || value.isEmpty()
                        : value == null;
                if (unset && operator != null && operator.endsWith("?")) {
                    throw new IllegalArgumentException("required variable " + name + " is missing: "
                            + variable.group(3));
                }
                replacement = unset && operator != null ? variable.group(3) : value == null ? "" : value;
            }
            variable.appendReplacement(result, Matcher.quoteReplacement(replacement));
        }
        variable.appendTail(result);
        return result.toString();
    }

    private static Object interpolate(Object value, Map<String, String> environment) {
        if (value instanceof String text) {
            return interpolate(text, environment);
        }
        if (value instanceof Map<?, ?> map) {
            Map<Object, Object> result = new LinkedHashMap<>();
            map.forEach((key, entry) -> result.put(key, interpolate(entry, environment)));
            return result;
        }
        if (value instanceof List<?> list) {
            return list.stream().map(entry -> interpolate(entry, environment)).toList();
        }
        return value;
    }

    private static final class ComposeConstructor extends SafeConstructor {
        ComposeConstructor(LoaderOptions options) {
            super(options);
            yamlConstructors.put(new Tag("!reset"), new AbstractConstruct() {
                @Override
                public Object construct(Node node) {
                    return Reset.VALUE;
                }
            });
        }
    }
}

package io.quarkvm.deploy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Dockerfile read the way the builder reads it: comment lines dropped (also inside a continued instruction),
 * continued lines joined, {@code ${NAME}} and {@code $NAME} taken from the ARG defaults and ENV values declared
 * before. There is no Docker engine here to build the image.
 */
record Dockerfile(List<Instruction> instructions) {

    static final Path JVM = Path.of("src", "main", "docker", "Dockerfile.jvm");

    record Instruction(String keyword, String arguments) {
    }

    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}|\\$([A-Za-z_][A-Za-z0-9_]*)");
    private static final Pattern ASSIGNMENT = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\\S*)");

    static Dockerfile jvm() {
        return parse(JVM);
    }

    static Dockerfile parse(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Instruction> instructions = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : lines) {
            String trimmed = line.strip();
            if (trimmed.startsWith("#") || (trimmed.isEmpty() && current.isEmpty())) {
                continue;
            }
            boolean continued = trimmed.endsWith("\\");
            current.append(continued ? trimmed.substring(0, trimmed.length() - 1) : trimmed).append(' ');
            if (!continued) {
                String[] parts = current.toString().strip().split("\\s+", 2);
                instructions.add(new Instruction(parts[0].toUpperCase(), parts.length > 1 ? parts[1] : ""));
                current.setLength(0);
            }
        }
        if (!current.isEmpty()) {
            throw new IllegalArgumentException(file + " ends inside a continued instruction");
        }
        return new Dockerfile(List.copyOf(instructions));
    }

    List<Instruction> all(String keyword) {
        return instructions.stream().filter(instruction -> instruction.keyword().equals(keyword)).toList();
    }

    Optional<String> argDefault(String name) {
        return all("ARG").stream().map(Instruction::arguments).map(ASSIGNMENT::matcher).filter(Matcher::matches)
                .filter(argument -> argument.group(1).equals(name)).map(argument -> argument.group(2)).findFirst();
    }

    /** ENV's variables, in order, with their values substituted. */
    Map<String, String> environment() {
        Map<String, String> environment = new LinkedHashMap<>();
        for (Instruction env : all("ENV")) {
            Matcher assignment = ASSIGNMENT.matcher(env.arguments());
            while (assignment.find()) {
                environment.put(assignment.group(1), substitute(assignment.group(2)));
            }
        }
        return environment;
    }

    String substitute(String text) {
        Map<String, String> known = new LinkedHashMap<>();
        for (Instruction arg : all("ARG")) {
            Matcher assignment = ASSIGNMENT.matcher(arg.arguments());
            if (assignment.matches()) {
                known.put(assignment.group(1), assignment.group(2));
            }
        }
        return VARIABLE.matcher(text).replaceAll(variable -> {
            String name = variable.group(1) != null ? variable.group(1) : variable.group(2);
            if (!known.containsKey(name)) {
                throw new IllegalArgumentException("$" + name + " is not declared with a default");
            }
            return Matcher.quoteReplacement(known.get(name));
        });
    }

    /** The numeric user the container runs as (USER uid or uid:gid). */
    long userId() {
        List<Instruction> users = all("USER");
        String user = substitute(users.get(users.size() - 1).arguments()).split(":")[0];
        return Long.parseLong(user);
    }

    int exposedPort() {
        List<Instruction> exposed = all("EXPOSE");
        if (exposed.size() != 1) {
            throw new IllegalStateException("EXPOSE " + exposed);
        }
        return Integer.parseInt(exposed.get(0).arguments().replace("/tcp", ""));
    }

    List<String> entrypoint() {
        return execForm(all("ENTRYPOINT").get(0).arguments());
    }

    List<String> volumes() {
        List<String> volumes = new ArrayList<>();
        for (Instruction volume : all("VOLUME")) {
            String arguments = substitute(volume.arguments());
            volumes.addAll(arguments.startsWith("[") ? execForm(arguments) : Arrays.asList(arguments.split("\\s+")));
        }
        return volumes;
    }

    /** COPY's sources and destination, last one the destination. */
    List<List<String>> copies() {
        return all("COPY").stream().map(copy -> Arrays.asList(substitute(copy.arguments()).split("\\s+"))).toList();
    }

    private static List<String> execForm(String json) {
        try {
            return new ObjectMapper().readValue(json, new TypeReference<List<String>>() {
            });
        } catch (IOException e) {
            throw new IllegalArgumentException("not an exec form (JSON array): " + json, e);
        }
    }
}

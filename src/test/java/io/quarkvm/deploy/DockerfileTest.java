package io.quarkvm.deploy;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * src/main/docker/Dockerfile.jvm read against the service: no Docker engine here builds it, so this checks what can
 * be checked without one.
 */
class DockerfileTest {

    private static final Set<String> INSTRUCTIONS = Set.of("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE",
            "FROM", "HEALTHCHECK", "LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR");
    /** Quarkus's fast-jar, as `./mvnw package` leaves it in target/quarkus-app. */
    private static final Set<String> FAST_JAR = Set.of("lib/", "app/", "quarkus/", "*.jar");
    private static final String FAST_JAR_DIRECTORY = "target/quarkus-app/";

    private final Dockerfile image = Dockerfile.jvm();

    @Test
    void everyInstructionIsOneTheBuilderKnowsAndTheImageHasOneStage() {
        assertThat(image.instructions()).extracting(Dockerfile.Instruction::keyword).allMatch(INSTRUCTIONS::contains);
        assertThat(image.instructions()).extracting(Dockerfile.Instruction::keyword)
                .filteredOn(keyword -> !keyword.equals("ARG")).first().isEqualTo("FROM");
        assertThat(image.all("FROM")).hasSize(1);
    }

    @Test
    void theServiceRunsAsAUserThatIsNotRootAndIsInTheKvmGroup() {
        assertThat(image.userId()).isPositive();
        String run = String.join("\n", image.all("RUN").stream().map(Dockerfile.Instruction::arguments).toList());
        Matcher user = Pattern.compile("useradd ([^&]*)").matcher(image.substitute(run));
        assertThat(user.find()).isTrue();
        assertThat(user.group(1)).contains("--uid \"" + image.userId() + "\"").contains("--groups kvm");
        assertThat(image.substitute(run)).contains("groupadd --gid \"" + image.argDefault("KVM_GID").orElseThrow()
                + "\" kvm");
    }

    @Test
    void itInstallsAJavaRuntimeOfTheReleaseTheBuildTargetsAndTheEmulator() throws IOException {
        Matcher release = Pattern.compile("<maven.compiler.release>(\\d+)</maven.compiler.release>")
                .matcher(Files.readString(Path.of("pom.xml")));
        assertThat(release.find()).isTrue();
        List<String> installed = aptInstalled();
        assertThat(installed).anyMatch(pkg -> pkg.matches("openjdk-" + release.group(1) + "-jre(-headless)?"));
        assertThat(installed).contains("libunicorn2");
    }

    @Test
    void itRunsTheFastJarTheBuildLeaves() {
        List<List<String>> copies = image.copies();
        assertThat(copies).allSatisfy(copy -> assertThat(copy.subList(0, copy.size() - 1))
                .allMatch(source -> source.startsWith(FAST_JAR_DIRECTORY)));
        assertThat(copies.stream().flatMap(copy -> copy.subList(0, copy.size() - 1).stream())
                .map(source -> source.substring(FAST_JAR_DIRECTORY.length()))).containsExactlyInAnyOrderElementsOf(FAST_JAR);
        List<String> entrypoint = image.entrypoint();
        String jar = entrypoint.get(entrypoint.indexOf("-jar") + 1);
        assertThat(jar).endsWith("/quarkus-run.jar");
        String jarsDestination = copies.stream().filter(copy -> copy.get(0).endsWith("*.jar"))
                .map(copy -> copy.get(copy.size() - 1)).findFirst().orElseThrow();
        assertThat(jar).isEqualTo(jarsDestination + "quarkus-run.jar");
        assertThat(entrypoint.get(0)).isEqualTo("java");
    }

    @Test
    void itExposesThePortTheServiceListensOn() {
        assertThat(image.exposedPort()).isEqualTo(ServiceConfiguration.httpPort());
    }

    @Test
    void itsEnvironmentIsReadByTheServiceAndTheDataDirectoryIsAVolume() {
        assertThat(image.environment().keySet()).isSubsetOf(ServiceConfiguration.environmentNames());
        assertThat(image.volumes()).containsExactly(image.environment().get("QUARKVM_DATA_DIR"));
    }

    @Test
    void theReadmeSaysHowToBuildIt() throws IOException {
        assertThat(Files.readString(Path.of("README.md")))
                .contains("./mvnw -B -DskipTests package && docker build -f " + Dockerfile.JVM + " -t ");
    }

    private List<String> aptInstalled() {
        Matcher install = Pattern.compile("apt-get install ([^&;|]*)").matcher(String.join("\n",
                image.all("RUN").stream().map(Dockerfile.Instruction::arguments).toList()));
        assertThat(install.find()).isTrue();
        return List.of(install.group(1).strip().split("\\s+")).stream().filter(word -> !word.startsWith("-")).toList();
    }
}

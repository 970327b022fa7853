import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** qemu-system-x86_64 as found on the PATH, with the first line of its --version (what the reports print). */
record QemuBinary(String path, String version) {
    static Optional<QemuBinary> find() {
        return Bench.which("qemu-system-x86_64").map(path -> new QemuBinary(path, ProcessResult.run(
                List.of(path, "--version"), Duration.ofSeconds(10)).output().lines().findFirst().orElse("?")));
    }
}

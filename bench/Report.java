import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** What a bench prints, as it goes; all of it is written to a results file at the end. */
final class Report {
    private final StringBuilder text = new StringBuilder();

    void line(String line) {
        if (line.isEmpty() && text.length() == 0) {
            return;
        }
        System.out.println(line);
        System.out.flush();
        text.append(line).append('\n');
    }

    /** The title, then the host, its load, the commit and the jar measured: what a reader needs to judge the numbers. */
    void header(String title, Path jar, Path workDir) {
        line(title + ", " + Instant.now());
        line("host: " + Runtime.getRuntime().availableProcessors() + " CPUs, kernel "
                + Bench.firstLine(Path.of("/proc/sys/kernel/osrelease")) + ", load average "
                + Bench.firstLine(Path.of("/proc/loadavg")) + "; java " + System.getProperty("java.version"));
        line("repository: " + ProcessResult.run(List.of("git", "log", "-1", "--format=%h %s"),
                Duration.ofSeconds(10)).output().strip() + dirtyNote());
        try {
            line("jar: " + jar + " built " + Files.getLastModifiedTime(jar));
        } catch (IOException e) {
            line("jar: " + jar + " (missing: " + e.getMessage() + ")");
        }
        line("work dir: " + workDir);
    }

    private static String dirtyNote() {
        String status = ProcessResult.run(List.of("git", "status", "--porcelain", "--", "src", "pom.xml"),
                Duration.ofSeconds(10)).output().strip();
        return status.isEmpty() ? "" : " (src/ has uncommitted changes: the jar may contain them)";
    }

    void write(Path path) {
        try {
            Files.createDirectories(path.toAbsolutePath().getParent());
            Files.writeString(path, text.toString());
            System.out.println("(written to " + path + ")");
        } catch (IOException e) {
            System.err.println("could not write " + path + ": " + e);
        }
    }
}

import java.nio.file.Path;

/** The options every bench takes, as --name=value (a bare --name means "true"); each bench adds its own in {@link #set}. */
abstract class BenchOptions {
    /** Where the services' data, the logs and the QEMU guests go (bench/run gives a throwaway one). */
    Path workDir;
    /** The service measured; bench/run builds it when it is older than the sources. */
    Path jar = Path.of("target/quarkus-app/quarkus-run.jar");
    Path results;

    BenchOptions(Path results) {
        this.results = results;
    }

    /** Takes one option of the bench's own; false when it is not one of them. */
    abstract boolean set(String name, String value);

    /** The bench's own options with their defaults, for --help. */
    abstract String usage();

    void read(String[] args) {
        for (String arg : args) {
            String[] kv = arg.replaceFirst("^--", "").split("=", 2);
            String value = kv.length > 1 ? kv[1] : "true";
            switch (kv[0]) {
                case "work-dir" -> workDir = Path.of(value);
                case "jar" -> jar = Path.of(value);
                case "results" -> results = Path.of(value);
                case "help" -> {
                    System.out.println("options: --work-dir= --jar= --results= " + usage());
                    System.exit(0);
                }
                default -> {
                    if (!set(kv[0], value)) {
                        throw new IllegalArgumentException("unknown option " + arg + " (try --help)");
                    }
                }
            }
        }
    }
}

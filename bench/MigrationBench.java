import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Issue 9: live migration of a 256 MiB and a 1 GiB guest between two quarkvm nodes on this machine, idle and with
 * the guest dirtying memory at a known rate, next to QEMU migrating the same-sized guest over QMP {@code migrate} on
 * loopback, in the same run: total time and downtime, median and p90, and their ratios.
 *
 * <p>Run it through {@code bash bench/run --migration} (builds the jar, installs QEMU if missing, compiles bench/,
 * cleans up). Everything it talks to is on this machine: two service processes on free localhost ports sharing the
 * first one's embedded PostgreSQL, and QEMU child processes. Every loop is bounded in count and in time.
 */
public class MigrationBench {

    /** What the guest does while it is migrated. */
    enum Load {
        IDLE, DIRTYING;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Options: --name=value; defaults are what issue 9 asks for.
    // ---------------------------------------------------------------------------------------------------------------

    static final class Options extends BenchOptions {
        Path guestSource = Path.of("bench/migration-guest.S");
        List<Integer> sizesMiB = List.of(256, 1024);
        List<Load> loads = List.of(Load.IDLE, Load.DIRTYING);
        int runs = 5;
        int warmup = 1;
        int downtimeLimitMs = 50;
        /** The QEMU guest's working set and the rate it rewrites it at (one word per 4 KiB page). */
        int dirtyWorkingSetMiB = 64;
        int dirtyRateMiBs = 64;
        /** QEMU's max-bandwidth in MiB/s; 0: no limit (quarkvm has none; QEMU's own default is 128 MiB/s). */
        long qemuMaxBandwidthMiBs = 0;
        /** kvm or tcg; null: kvm where /dev/kvm exists (falling back to tcg when QEMU cannot use it), else tcg. */
        String qemuAccel;
        /** The quarkvm guest kind that dirties memory; null: the first known kind whose name says "dirt". */
        String quarkvmDirtyKind;
        boolean qemu = true;
        boolean quarkvm = true;
        int migrationTimeoutSeconds = 120;

        Options() {
            super(Path.of("bench/results/migration-latest.txt"));
        }

        static Options parse(String[] args) {
            Options o = new Options();
            o.read(args);
            if (o.runs < 1 || o.warmup < 0) {
                throw new IllegalArgumentException("--runs must be at least 1 and --warmup at least 0");
            }
            return o;
        }

        @Override
        boolean set(String name, String value) {
            switch (name) {
                case "sizes" -> sizesMiB = Arrays.stream(value.split(",")).map(String::trim).map(Integer::valueOf)
                        .toList();
                case "loads" -> loads = Arrays.stream(value.split(",")).map(String::trim)
                        .map(s -> Load.valueOf(s.toUpperCase(Locale.ROOT))).toList();
                case "runs" -> runs = Integer.parseInt(value);
                case "warmup" -> warmup = Integer.parseInt(value);
                case "downtime-limit-ms" -> downtimeLimitMs = Integer.parseInt(value);
                case "dirty-mib" -> dirtyWorkingSetMiB = Integer.parseInt(value);
                case "dirty-rate" -> dirtyRateMiBs = Integer.parseInt(value);
                case "qemu-max-bandwidth" -> qemuMaxBandwidthMiBs = Long.parseLong(value);
                case "qemu-accel" -> qemuAccel = value;
                case "quarkvm-dirty-kind" -> quarkvmDirtyKind = value;
                case "qemu" -> qemu = Boolean.parseBoolean(value);
                case "quarkvm" -> quarkvm = Boolean.parseBoolean(value);
                case "migration-timeout" -> migrationTimeoutSeconds = Integer.parseInt(value);
                default -> {
                    return false;
                }
            }
            return true;
        }

        @Override
        String usage() {
            return "--sizes=256,1024 --loads=idle,dirtying"
                    + " --runs=5 --warmup=1 --downtime-limit-ms=50 --dirty-mib=64 --dirty-rate=64 (MiB/s)"
                    + " --qemu-max-bandwidth=0 (MiB/s, 0 = no limit) --qemu-accel=kvm|tcg"
                    + " --quarkvm-dirty-kind=NAME"
                    + " --qemu=true --quarkvm=true --migration-timeout=120 (s)";
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Main: QEMU first (it needs nothing of quarkvm), then two quarkvm nodes; the table; stop everything.
    // ---------------------------------------------------------------------------------------------------------------

    /** One configuration: a guest size and what it does while migrated. */
    record Case(int sizeMiB, Load load) {
        @Override
        public String toString() {
            return (sizeMiB >= 1024 && sizeMiB % 1024 == 0 ? sizeMiB / 1024 + " GiB" : sizeMiB + " MiB") + " "
                    + load.label();
        }
    }

    /**
     * One migration: what the migrating side reports, and the client's wall time from the request to completion.
     * {@code guestDowntimeMs}: the time the guest did not run, from the source's pause to the target's resume, on this
     * host's clock: QEMU's target RESUME event minus its source's STOP event (QMP timestamps); quarkvm's migration
     * {@code resumedAt} (the target's) minus its {@code pausedAt} (the source's). NaN when not reported.
     */
    record Sample(double totalMs, double downtimeMs, double guestDowntimeMs, double clientMs, long rounds, long bytesSent,
                  double dirtyRateMiBs) {
    }

    /** The timed migrations of one case on one side, or why there are none. */
    static final class Series {
        final List<Sample> samples = new ArrayList<>();
        String skipped;

        List<Double> values(java.util.function.ToDoubleFunction<Sample> field) {
            return samples.stream().map(s -> field.applyAsDouble(s)).toList();
        }
    }

    public static void main(String[] args) throws Exception {
        Options options = Options.parse(args);
        if (options.workDir == null) {
            options.workDir = Files.createTempDirectory("quarkvm-migration-bench");
        }
        options.workDir = options.workDir.toAbsolutePath();
        Files.createDirectories(options.workDir);
        Report report = new Report();
        report.header("quarkvm live-migration bench (issue 9)", options.jar, options.workDir);

        List<Case> cases = new ArrayList<>();
        for (int size : options.sizesMiB) {
            for (Load load : options.loads) {
                cases.add(new Case(size, load));
            }
        }
        List<String> failures = new ArrayList<>();
        Map<Case, Series> qemuResults = new LinkedHashMap<>();
        Map<Case, Series> quarkvmResults = new LinkedHashMap<>();
        QemuSide qemu = null;
        Cluster cluster = null;
        try {
            if (options.qemu) {
                try {
                    qemu = QemuSide.prepare(options, report);
                    for (Case c : cases) {
                        qemuResults.put(c, qemu.measure(c, report));
                    }
                } catch (BenchFailure e) {
                    failures.add("QEMU: " + e.getMessage());
                    report.line("QEMU FAILED: " + e.getMessage());
                }
            }
            if (options.quarkvm) {
                try {
                    cluster = Cluster.start(options, report);
                    Cluster running = cluster;
                    Runtime.getRuntime().addShutdownHook(new Thread(running::stop));
                    for (Case c : cases) {
                        quarkvmResults.put(c, cluster.measure(c, report));
                    }
                } catch (BenchFailure e) {
                    failures.add("quarkvm: " + e.getMessage());
                    report.line("");
                    report.line("quarkvm FAILED: " + e.getMessage());
                    if (cluster != null) {
                        report.line(cluster.a.describeState());
                        report.line(cluster.b.describeState());
                    }
                }
            }
            summary(report, options, cases, qemu, qemuResults, cluster, quarkvmResults, failures);
        } finally {
            if (cluster != null) {
                for (String stopped : cluster.stop()) {
                    report.line(stopped);
                }
            }
            report.write(options.results);
        }
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // QEMU: the same-sized guest, migrated between two qemu-system-x86_64 processes over QMP migrate on loopback.
    // ---------------------------------------------------------------------------------------------------------------

    static final class QemuSide {
        /** Mailbox of bench/migration-guest.S: pages written (u64), ready magic, last TSC (u64). */
        static final long MAILBOX = 0x500;
        static final long READY = 0x52444451L;
        static final long WORKING_SET_START = 2L << 20;
        static final int BATCH_PAGES = 16;

        final Options options;
        final QemuBinary binary;
        final String accel;
        final Path dir;
        /** The guest's TSC frequency, which the dirtying guest's pacing is computed with, and how it is known. */
        double guestTscHz;
        String guestTscSource;
        Path idleKernel;
        Path dirtyingKernel;
        private int instances;

        private QemuSide(Options options, QemuBinary binary, String accel, Path dir) {
            this.options = options;
            this.binary = binary;
            this.accel = accel;
            this.dir = dir;
        }

        /** Finds QEMU, builds the guests, picks KVM (else TCG, said so) and learns the guest's TSC frequency. */
        static QemuSide prepare(Options options, Report report) {
            report.line("");
            QemuBinary binary = QemuBinary.find().orElseThrow(() -> new BenchFailure(
                    "qemu-system-x86_64 not found (bench/run installs it with apt-get)"));
            Path dir = options.workDir.resolve("qemu");
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            String accel = options.qemuAccel != null ? options.qemuAccel
                    : Files.exists(Path.of("/dev/kvm")) ? "kvm" : "tcg";
            QemuSide qemu = new QemuSide(options, binary, accel, dir);
            Double kvmTscHz = qemu.bootIdle();
            if (kvmTscHz == null && accel.equals("kvm")) {
                report.line("QEMU with -accel kvm did not run the guest although /dev/kvm exists: falling back to TCG");
                qemu = new QemuSide(options, binary, "tcg", dir);
                kvmTscHz = qemu.bootIdle();
            }
            if (kvmTscHz == null) {
                throw new BenchFailure("QEMU did not run the idle guest with -accel " + qemu.accel + " (logs in " + dir
                        + ")");
            }
            if (kvmTscHz > 0) {
                qemu.guestTscHz = kvmTscHz;
                qemu.guestTscSource = "KVM_GET_TSC_KHZ, read as QEMU's vCPU property tsc-frequency";
            } else {
                // A build paced by a nominal 1 GHz TSC, only to measure the real frequency with.
                qemu.guestTscHz = qemu.calibrate(qemu.buildGuest("calibration", options.dirtyWorkingSetMiB, 1e9));
                qemu.guestTscSource = "measured: the guest's TSC against the host clock over 5 s";
            }
            qemu.dirtyingKernel = qemu.buildGuest("dirtying", options.dirtyWorkingSetMiB, qemu.guestTscHz);
            report.line("QEMU: " + binary.version() + ", -machine microvm -accel " + qemu.accel
                    + (qemu.accel.equals("kvm") ? "" : "   *** TCG" + (options.qemuAccel != null ? " (--qemu-accel)"
                    : ": no usable /dev/kvm here") + " ***")
                    + String.format(Locale.ROOT, "; guest TSC %.3f MHz (%s)", qemu.guestTscHz / 1e6,
                    qemu.guestTscSource));
            return qemu;
        }

        /**
         * Assembles bench/migration-guest.S for one kind: {@code workingSetMiB} 0 is the idle guest (HLT), otherwise
         * the pacing constants come from the rate asked for and the TSC frequency given.
         */
        Path buildGuest(String name, int workingSetMiB, double tscHz) {
            long pages = workingSetMiB * 256L;
            // ticks per batch = tscHz / (rate pages per second) * BATCH_PAGES; rate pages/s = MiB/s * 256
            long ticksPerBatch = pages == 0 ? 0 : Math.round(tscHz * BATCH_PAGES / (options.dirtyRateMiBs * 256.0));
            // at most 100 ms of backlog is caught up; fits in 32 bits for any TSC below 40 GHz
            long maxLag = Math.round(tscHz / 10);
            Path object = dir.resolve(name + ".o");
            Path elf = dir.resolve(name + ".elf");
            List<String> compile = List.of("gcc", "-m32", "-c", "-DWS_PAGES=" + pages,
                    "-DWS_START=" + WORKING_SET_START, "-DBATCH_PAGES=" + BATCH_PAGES,
                    "-DTSC_PER_BATCH_LO=" + (ticksPerBatch & 0xFFFFFFFFL), "-DTSC_PER_BATCH_HI=" + (ticksPerBatch >>> 32),
                    "-DMAX_LAG=" + maxLag, options.guestSource.toAbsolutePath().toString(), "-o", object.toString());
            // -N: no page-aligned segments, so the ELF headers are not loaded into guest memory; the note goes right
            // after the code, so that every byte QEMU loads lies within the first 2 MiB, below the working set.
            List<String> link = List.of("ld", "-m", "elf_i386", "-N", "-Ttext=0x100000",
                    "--section-start=.note.Xen=0x100f00", "-e", "start", "-o", elf.toString(), object.toString());
            for (List<String> step : List.of(compile, link)) {
                ProcessResult result = ProcessResult.run(step, Duration.ofSeconds(60));
                if (result.exitCode() != 0) {
                    throw new BenchFailure("building the QEMU guest failed: " + String.join(" ", step) + "\n"
                            + result.output().strip());
                }
            }
            return elf;
        }

        List<String> command(Path kernel, int sizeMiB, Path qmpSocket, Integer incomingPort) {
            List<String> command = new ArrayList<>(List.of(binary.path(), "-machine", "microvm", "-accel", accel, "-m",
                    Integer.toString(sizeMiB), "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
                    "-kernel", kernel.toString(), "-qmp", "unix:" + qmpSocket + ",server=on,wait=off"));
            if (incomingPort != null) {
                command.addAll(List.of("-incoming", "tcp:127.0.0.1:" + incomingPort));
            }
            return command;
        }

        /** A QEMU process of this bench and its QMP connection. */
        final class Instance implements AutoCloseable {
            final Process process;
            final Qmp qmp;
            final Path log;

            Instance(Path kernel, int sizeMiB, Integer incomingPort) {
                int n = ++instances;
                Path socket = dir.resolve("qmp-" + n + ".sock");
                log = dir.resolve("qemu-" + n + ".log");
                try {
                    process = new ProcessBuilder(command(kernel, sizeMiB, socket, incomingPort))
                            .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                Bench.recordPid(options.workDir, "qemu-" + n, process.pid());
                qmp = Qmp.connect(socket, process, log, Duration.ofSeconds(30));
            }

            /** The mailbox words: pages written (u64), ready magic, last TSC (u64). */
            long[] mailbox() {
                String text = qmp.hmp("xp /5wx 0x" + Long.toHexString(MAILBOX));
                Matcher m = Pattern.compile("0x([0-9a-fA-F]{8})\\b").matcher(text);
                long[] words = new long[5];
                for (int i = 0; i < 5; i++) {
                    if (!m.find()) {
                        throw new BenchFailure("unexpected answer to xp: " + text);
                    }
                    words[i] = Long.parseLong(m.group(1), 16);
                }
                return new long[] {words[0] | words[1] << 32, words[2], words[3] | words[4] << 32};
            }

            /** Waits (bounded) until the guest has started its loop; false if it did not within {@code timeout}. */
            boolean awaitReady(Duration timeout) {
                long deadline = System.nanoTime() + timeout.toNanos();
                while (System.nanoTime() < deadline && process.isAlive()) {
                    if (mailbox()[1] == READY) {
                        return true;
                    }
                    Bench.sleep(20);
                }
                return false;
            }

            @Override
            public void close() {
                if (process.isAlive()) {
                    qmp.sendQuietly("quit");
                    if (!Bench.waitFor(process, Duration.ofSeconds(10))) {
                        process.destroyForcibly();
                        Bench.waitFor(process, Duration.ofSeconds(10));
                    }
                }
                qmp.close();
            }

            String describe() {
                return (process.isAlive() ? "running" : "exited with " + process.exitValue()) + "; " + log + ":\n"
                        + Bench.tail(log, 20);
            }
        }

        /**
         * Builds the idle guest and boots it once: null when it does not get to its loop (QEMU cannot run it with
         * this accelerator); else the vCPU's TSC frequency that QEMU took from KVM (KVM_GET_TSC_KHZ), which its vCPU
         * object shows as the property tsc-frequency; 0 when there is none (TCG).
         */
        Double bootIdle() {
            idleKernel = buildGuest("idle", 0, 0);
            try (Instance probe = new Instance(idleKernel, 64, null)) {
                if (!probe.awaitReady(Duration.ofSeconds(20))) {
                    return null;
                }
                Object cpus = probe.qmp.execute("query-cpus-fast", null);
                Object path = Json.get(((List<?>) cpus).get(0), "qom-path");
                Object hz = probe.qmp.execute("qom-get", "{\"path\":\"" + path + "\",\"property\":\"tsc-frequency\"}");
                return hz instanceof Number n ? n.doubleValue() : 0.0;
            } catch (BenchFailure e) {
                return null;
            }
        }

        /** The guest's TSC frequency: its TSC (written after every batch) against the host's clock, 5 s apart. */
        double calibrate(Path kernel) {
            try (Instance guest = new Instance(kernel, 256, null)) {
                if (!guest.awaitReady(Duration.ofSeconds(30))) {
                    throw new BenchFailure("the calibration guest did not start its loop: " + guest.describe());
                }
                Bench.sleep(200);
                long t1 = System.nanoTime();
                long tsc1 = guest.mailbox()[2];
                long t1b = System.nanoTime();
                Bench.sleep(5000);
                long t2 = System.nanoTime();
                long tsc2 = guest.mailbox()[2];
                long t2b = System.nanoTime();
                // each reading is taken somewhere within its QMP round trip: the midpoints
                return (tsc2 - tsc1) / (((t2 + t2b) / 2.0 - (t1 + t1b) / 2.0) / 1e9);
            }
        }

        Series measure(Case c, Report report) {
            Series series = new Series();
            List<Double> ratesBefore = new ArrayList<>();
            List<Double> ratesAfter = new ArrayList<>();
            for (int i = 0; i < options.warmup + options.runs; i++) {
                boolean timed = i >= options.warmup;
                Sample sample = migrateOnce(c, timed ? ratesBefore : new ArrayList<>(), timed ? ratesAfter
                        : new ArrayList<>());
                if (timed) {
                    series.samples.add(sample);
                }
            }
            report.line(String.format(Locale.ROOT, "QEMU %-16s total ms %s", c, Bench.formatSamples(series.values(Sample::totalMs))));
            report.line(String.format(Locale.ROOT, "     %-16s downtime ms, self-reported %s", "", Bench.formatSamples(series.values(Sample::downtimeMs))));
            report.line(String.format(Locale.ROOT, "     %-16s downtime ms, guest-observed %s", "", Bench.formatSamples(series.values(Sample::guestDowntimeMs))));
            report.line(String.format(Locale.ROOT, "     %-16s client ms %s; dirty-sync rounds %s", "",
                    Bench.formatSamples(series.values(Sample::clientMs)), counts(series.values(s -> s.rounds))));
            if (c.load == Load.DIRTYING) {
                report.line(String.format(Locale.ROOT, "     %-16s guest's write rate, MiB/s by the host clock (asked %d):"
                                + " before migrating %s; on the target after it %s", "", options.dirtyRateMiBs,
                        Bench.formatSamples(ratesBefore), Bench.formatSamples(ratesAfter)));
            }
            return series;
        }

        /**
         * Source and target QEMU, the guest running on the source (dirtying: one full sweep of its working set done,
         * then its rate measured over 1 s); then migrate, wait for the MIGRATION event "completed" and read
         * query-migrate; then check that the guest runs on the target (dirtying: its counter goes on). The
         * guest-observed downtime is the target's RESUME event minus the source's STOP event: both QEMUs stamp their
         * events with this host's wall clock, and with both event lists emptied right before migrate, the only STOP
         * is the source's stop for the migration's last round, and the only RESUME the target's start once it has
         * loaded the incoming state (it was in "inmigrate", never ran, before).
         */
        Sample migrateOnce(Case c, List<Double> ratesBefore, List<Double> ratesAfter) {
            boolean dirtying = c.load == Load.DIRTYING;
            Path kernel = dirtying ? dirtyingKernel : idleKernel;
            int port = Bench.freePorts(1)[0];
            try (Instance target = new Instance(kernel, c.sizeMiB, port);
                 Instance source = new Instance(kernel, c.sizeMiB, null)) {
                if (!source.awaitReady(Duration.ofSeconds(30))) {
                    throw new BenchFailure("the QEMU guest did not start: " + source.describe());
                }
                if (dirtying) {
                    long pages = options.dirtyWorkingSetMiB * 256L;
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (source.mailbox()[0] < pages && System.nanoTime() < deadline) {
                        Bench.sleep(50);
                    }
                    ratesBefore.add(rate(source, 1000));
                }
                source.qmp.execute("migrate-set-capabilities",
                        "{\"capabilities\":[{\"capability\":\"events\",\"state\":true}]}");
                long bandwidth = options.qemuMaxBandwidthMiBs == 0 ? 1L << 40 : options.qemuMaxBandwidthMiBs << 20;
                source.qmp.execute("migrate-set-parameters", "{\"downtime-limit\":" + options.downtimeLimitMs
                        + ",\"max-bandwidth\":" + bandwidth + "}");
                if (!"inmigrate".equals(Json.get(target.qmp.execute("query-status", null), "status"))) {
                    throw new BenchFailure("the target QEMU should wait for the incoming migration: "
                            + target.describe());
                }
                source.qmp.drainEvents();
                target.qmp.drainEvents();
                long t0 = System.nanoTime();
                source.qmp.execute("migrate", "{\"uri\":\"tcp:127.0.0.1:" + port + "\"}");
                Map<?, ?> done = source.qmp.awaitEvent("MIGRATION", data -> {
                    Object status = Json.get(data, "status");
                    return "completed".equals(status) || "failed".equals(status) || "cancelled".equals(status);
                }, Duration.ofSeconds(options.migrationTimeoutSeconds));
                long t1 = System.nanoTime();
                Object info = source.qmp.execute("query-migrate", null);
                // The event comes before QEMU has filled in total-time and downtime (migration_iteration_finish
                // does that after it set the state): until then query-migrate says 0 for both.
                long settled = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while ("completed".equals(Json.get(info, "status")) && number(info, "total-time") == 0
                        && System.nanoTime() < settled) {
                    Bench.sleep(5);
                    info = source.qmp.execute("query-migrate", null);
                }
                if (done == null || !"completed".equals(Json.get(info, "status"))) {
                    throw new BenchFailure("QEMU migration of " + c + " did not complete within "
                            + options.migrationTimeoutSeconds + " s: query-migrate says " + info + "\n  source: "
                            + source.describe() + "\n  target: " + target.describe());
                }
                awaitRunning(target, c);
                Map<?, ?> stopped = source.qmp.awaitEvent("STOP", data -> true, Duration.ZERO);
                Map<?, ?> resumed = target.qmp.awaitEvent("RESUME", data -> true, Duration.ofSeconds(5));
                if (stopped == null || resumed == null) {
                    throw new BenchFailure("expected a STOP event from the source QEMU and a RESUME event from the"
                            + " target during the migration of " + c + ", got " + (stopped == null ? "no" : "a")
                            + " STOP and " + (resumed == null ? "no" : "a") + " RESUME");
                }
                if (dirtying) {
                    ratesAfter.add(rate(target, 500));
                } else if (target.mailbox()[1] != READY) {
                    throw new BenchFailure("the idle guest's mailbox did not arrive on the target: " + target.describe());
                }
                Object ram = Json.get(info, "ram");
                return new Sample(number(info, "total-time"), number(info, "downtime"),
                        Qmp.timestampMs(resumed) - Qmp.timestampMs(stopped), (t1 - t0) / 1e6,
                        (long) number(ram, "dirty-sync-count"), (long) number(ram, "transferred"),
                        number(ram, "dirty-pages-rate") * 4096 / (1 << 20));
            }
        }

        void awaitRunning(Instance target, Case c) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                if ("running".equals(Json.get(target.qmp.execute("query-status", null), "status"))) {
                    return;
                }
                Bench.sleep(10);
            }
            throw new BenchFailure("the target QEMU did not run the guest after migrating " + c + ": "
                    + target.describe());
        }

        /** MiB/s the guest wrote over about {@code millis}, by the host's clock (midpoints of the QMP round trips). */
        static double rate(Instance guest, long millis) {
            long a0 = System.nanoTime();
            long pages1 = guest.mailbox()[0];
            long a1 = System.nanoTime();
            Bench.sleep(millis);
            long b0 = System.nanoTime();
            long pages2 = guest.mailbox()[0];
            long b1 = System.nanoTime();
            double seconds = ((b0 + b1) / 2.0 - (a0 + a1) / 2.0) / 1e9;
            return (pages2 - pages1) * 4096.0 / (1 << 20) / seconds;
        }

        static double number(Object json, String field) {
            Object value = Json.get(json, field);
            return value instanceof Number n ? n.doubleValue() : Double.NaN;
        }
    }

    /**
     * A QMP connection over QEMU's UNIX socket: a reader thread sorts what arrives into command answers and
     * asynchronous events, so that a command waits for its answer and an event can be awaited with a deadline. The
     * events are kept until {@link #drainEvents}, so one that came before another awaited first is still there.
     */
    static final class Qmp implements AutoCloseable {
        private final SocketChannel channel;
        private final BlockingQueue<Object> answers = new LinkedBlockingQueue<>();
        /** The events since the last {@link #drainEvents}, in order; guarded by itself. */
        private final List<Object> events = new ArrayList<>();
        private final Path log;

        private Qmp(SocketChannel channel, Path log) {
            this.channel = channel;
            this.log = log;
            Thread reader = new Thread(this::read, "qmp-reader");
            reader.setDaemon(true);
            reader.start();
        }

        /** Connects (QEMU creates the socket shortly after it starts) and leaves capabilities negotiation mode. */
        static Qmp connect(Path socket, Process process, Path log, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                if (!process.isAlive()) {
                    throw new BenchFailure("QEMU exited with " + process.exitValue() + " before its QMP socket was"
                            + " there: " + Bench.tail(log, 20));
                }
                if (Files.exists(socket)) {
                    SocketChannel channel = null;
                    try {
                        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
                        channel.connect(UnixDomainSocketAddress.of(socket));
                    } catch (IOException notYet) {
                        closeQuietly(channel); // QEMU has bound the socket but does not accept yet
                        channel = null;
                    }
                    if (channel != null) {
                        Qmp qmp = new Qmp(channel, log);
                        qmp.answer("the greeting", Duration.ofSeconds(10)); // {"QMP": {...}}
                        qmp.execute("qmp_capabilities", null);
                        return qmp;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new BenchFailure("QEMU's QMP socket " + socket + " did not accept within " + timeout);
                }
                Bench.sleep(10);
            }
        }

        private void read() {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    Object message = Json.parse(line);
                    if (Json.get(message, "event") == null) {
                        answers.add(message);
                    } else {
                        synchronized (events) {
                            events.add(message);
                            events.notifyAll();
                        }
                    }
                }
            } catch (IOException | BenchFailure closed) {
                // QEMU quit, or close() closed the channel
            }
        }

        private Object answer(String what, Duration timeout) {
            try {
                Object message = answers.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
                if (message == null) {
                    throw new BenchFailure("QMP: no answer to " + what + " within " + timeout + "; " + Bench.tail(log, 20));
                }
                return message;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BenchFailure("interrupted");
            }
        }

        private void send(String command, String argumentsJson) throws IOException {
            String text = "{\"execute\":\"" + command + "\"" + (argumentsJson == null ? "" : ",\"arguments\":"
                    + argumentsJson) + "}\n";
            ByteBuffer buffer = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            synchronized (channel) {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            }
        }

        /** Runs a command and returns its "return" value; an "error" answer fails the bench with both. */
        Object execute(String command, String argumentsJson) {
            try {
                send(command, argumentsJson);
            } catch (IOException e) {
                throw new BenchFailure("QMP " + command + " could not be sent: " + e + "; " + Bench.tail(log, 20));
            }
            Object answer = answer(command, Duration.ofSeconds(30));
            if (Json.get(answer, "error") != null) {
                throw new BenchFailure("QMP " + command + " " + (argumentsJson == null ? "" : argumentsJson)
                        + " answered " + answer);
            }
            return Json.get(answer, "return");
        }

        /** A human monitor command (QMP human-monitor-command); its printed output. */
        String hmp(String commandLine) {
            return String.valueOf(execute("human-monitor-command", "{\"command-line\":\"" + commandLine + "\"}"));
        }

        void sendQuietly(String command) {
            try {
                send(command, null);
            } catch (IOException alreadyGone) {
                // the process is stopped by its owner in any case
            }
        }

        void drainEvents() {
            synchronized (events) {
                events.clear();
            }
        }

        /**
         * The first event {@code name} since the last {@link #drainEvents} whose data {@code accept}s (the whole
         * message: event, data, timestamp), waiting for it until {@code timeout}; null if none came.
         */
        Map<?, ?> awaitEvent(String name, java.util.function.Predicate<Object> accept, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (events) {
                int seen = 0;
                while (true) {
                    for (; seen < events.size(); seen++) {
                        Object event = events.get(seen);
                        if (name.equals(Json.get(event, "event")) && accept.test(Json.get(event, "data"))) {
                            return (Map<?, ?>) event;
                        }
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return null;
                    }
                    try {
                        TimeUnit.NANOSECONDS.timedWait(events, left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new BenchFailure("interrupted");
                    }
                }
            }
        }

        /** When QEMU emitted an event: its "timestamp" {seconds, microseconds} (host wall clock), in ms. */
        static double timestampMs(Map<?, ?> event) {
            Object timestamp = Json.get(event, "timestamp");
            return QemuSide.number(timestamp, "seconds") * 1e3 + QemuSide.number(timestamp, "microseconds") / 1e3;
        }

        @Override
        public void close() {
            closeQuietly(channel);
        }

        private static void closeQuietly(SocketChannel channel) {
            try {
                if (channel != null) {
                    channel.close();
                }
            } catch (IOException ignored) {
                // nothing left to do with it
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // quarkvm: two nodes on one PostgreSQL, a VM created and started on node-a, migrated to node-b.
    // ---------------------------------------------------------------------------------------------------------------

    static final class Cluster {
        static final Pattern KNOWN_KINDS = Pattern.compile("known: \\[([^\\]]*)\\]");

        final Options options;
        final Service a;
        final Service b;
        final Api api;
        final Map<String, String> hypervisors = new LinkedHashMap<>();
        /** The guest kind the dirtying cases run, or null (then why not is in {@link #noDirtyingGuest}). */
        String dirtyKind;
        String noDirtyingGuest;

        private Cluster(Options options, Service a, Service b) {
            this.options = options;
            this.a = a;
            this.b = b;
            this.api = new Api(a);
        }

        /**
         * node-a on its embedded PostgreSQL, as README.md starts a service; node-b on node-a's database through the
         * standard Quarkus datasource variables, with what a node on an external database must be given
         * (io.quarkvm.security.Credentials): node-a's cluster secret and a tokens file that accepts node-a's
         * operator token. Both must be live in GET /api/v1/nodes.
         */
        static Cluster start(Options options, Report report) throws IOException {
            report.line("");
            int[] ports = Bench.freePorts(3); // node-a HTTP, node-b HTTP, node-a's embedded PostgreSQL
            report.line("starting node-a (embedded PostgreSQL on port " + ports[2] + ") and node-b (on node-a's"
                    + " database): " + options.jar);
            Service a = Service.start(options.jar, options.workDir, "node-a", ports[0], List.of(
                    "-Dquarkvm.embedded-db.port=" + ports[2], "-Dquarkvm.node.name=node-a",
                    "-Dquarkvm.node.url=http://localhost:" + ports[0]), Map.of(), null);
            Service b = null;
            try {
                String secret = Files.readString(a.dataDir.resolve("cluster.secret")).strip();
                Path tokens = options.workDir.resolve("node-b.tokens");
                Files.writeString(tokens, "operator " + sha256Hex(a.operatorToken) + "\n");
                // the embedded server's database and account (io.quarkvm.persistence.EmbeddedPostgres)
                b = Service.start(options.jar, options.workDir, "node-b", ports[1], List.of(
                        "-Dquarkvm.node.name=node-b", "-Dquarkvm.node.url=http://localhost:" + ports[1],
                        "-Dquarkvm.auth.tokens-file=" + tokens), Map.of(
                        "QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://localhost:" + ports[2] + "/postgres",
                        "QUARKUS_DATASOURCE_USERNAME", "postgres",
                        "QUARKUS_DATASOURCE_PASSWORD", "postgres",
                        "QUARKVM_CLUSTER_SECRET", secret), a.operatorToken);
            } catch (RuntimeException | IOException e) {
                a.stop();
                throw e;
            }
            Cluster cluster = new Cluster(options, a, b);
            report.line(String.format(Locale.ROOT, "node-a ready at %s (pid %d) after %.1f s; node-b at %s (pid %d)"
                    + " after %.1f s", a.base, a.pid(), a.readySeconds, b.base, b.pid(), b.readySeconds));
            cluster.awaitBothLive(report);
            cluster.findDirtyingGuest(report);
            return cluster;
        }

        static String sha256Hex(String token) {
            try {
                return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                        .digest(token.getBytes(StandardCharsets.UTF_8)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every Java runtime has SHA-256", e);
            }
        }

        /** GET /api/v1/nodes (on both nodes) until each lists both as live and able to run VMs; at most 60 s. */
        void awaitBothLive(Report report) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            Api.Reply last = null;
            while (System.nanoTime() < deadline) {
                boolean ok = true;
                for (Api nodeApi : List.of(api, new Api(b))) {
                    last = nodeApi.expect(200, "GET", "/api/v1/nodes", null);
                    hypervisors.clear();
                    for (Object node : (List<?>) Json.get(last.json(), "items")) {
                        if (Boolean.TRUE.equals(Json.get(node, "live")) && Boolean.TRUE.equals(Json.get(node, "canRunVms"))) {
                            hypervisors.put((String) Json.get(node, "name"), Json.get(node, "hypervisor") + " ("
                                    + Json.get(node, "provider") + ")");
                        }
                    }
                    ok &= hypervisors.containsKey("node-a") && hypervisors.containsKey("node-b");
                }
                if (ok) {
                    report.line("GET /api/v1/nodes: both live; node-a runs guests on " + hypervisors.get("node-a")
                            + ", node-b on " + hypervisors.get("node-b"));
                    return;
                }
                Bench.sleep(500);
            }
            throw new BenchFailure("GET /api/v1/nodes did not list node-a and node-b as live and able to run VMs"
                    + " within 60 s:\n" + last);
        }

        /**
         * The guest kind that dirties memory: --quarkvm-dirty-kind, else the first kind whose name says "dirt" in the
         * list of known kinds that a create with an unknown kind answers with (GuestKind.resolve); nothing is
         * created by that request. No such kind: the dirtying cases are skipped for quarkvm, and said so.
         */
        void findDirtyingGuest(Report report) {
            if (!options.loads.contains(Load.DIRTYING)) {
                return;
            }
            if (options.quarkvmDirtyKind != null) {
                dirtyKind = options.quarkvmDirtyKind;
                report.line("quarkvm's dirtying guest: guest kind '" + dirtyKind + "' (--quarkvm-dirty-kind)");
                return;
            }
            Api.Reply reply = api.call("POST", "/api/v1/vms", vmBody("bench-kinds", 16, "no-such-kind-bench-asks"));
            Matcher known = KNOWN_KINDS.matcher(reply.body());
            if (reply.status() / 100 == 4 && known.find()) {
                for (String kind : known.group(1).split(",\\s*")) {
                    if (dirtyKind == null && kind.contains("dirt")) {
                        dirtyKind = kind;
                    }
                }
            } else {
                throw new BenchFailure("expected a 4xx naming the known guest kinds:\n" + reply);
            }
            if (dirtyKind == null) {
                noDirtyingGuest = "this build has no guest kind that dirties memory (known: " + known.group(1)
                        + "); --quarkvm-dirty-kind=NAME names one";
                report.line("quarkvm's dirtying guest: NOT MEASURED: " + noDirtyingGuest);
            } else {
                report.line("quarkvm's dirtying guest: guest kind '" + dirtyKind + "' (the known kinds: "
                        + known.group(1) + ")");
            }
        }

        static String vmBody(String name, int memoryMiB, String guestKind) {
            return "{\"name\":\"" + name + "\",\"machineType\":\"quarkvm-3.0\",\"topology\":{\"sockets\":1,\"dies\":1,"
                    + "\"cores\":1,\"threads\":1},\"memoryMiB\":" + memoryMiB + ",\"guest\":{\"kind\":\"" + guestKind
                    + "\"}}";
        }

        Series measure(Case c, Report report) {
            Series series = new Series();
            if (c.load == Load.DIRTYING && dirtyKind == null) {
                series.skipped = noDirtyingGuest;
                return series;
            }
            for (int i = 0; i < options.warmup + options.runs; i++) {
                Sample sample = migrateOnce(c, "bench-" + c.sizeMiB + "-" + c.load.label() + "-" + i);
                if (i >= options.warmup) {
                    series.samples.add(sample);
                }
            }
            report.line(String.format(Locale.ROOT, "quarkvm %-13s total ms %s", c, Bench.formatSamples(series.values(Sample::totalMs))));
            report.line(String.format(Locale.ROOT, "        %-13s downtime ms %s", "", Bench.formatSamples(series.values(Sample::downtimeMs))));
            report.line(String.format(Locale.ROOT, "        %-13s downtime ms, guest-observed %s", "", Bench.formatSamples(series.values(Sample::guestDowntimeMs))));
            report.line(String.format(Locale.ROOT, "        %-13s client ms %s; rounds %s; MiB sent %s; dirty rate MiB/s %s",
                    "", Bench.formatSamples(series.values(Sample::clientMs)), counts(series.values(s -> s.rounds)),
                    series.values(s -> Math.round(s.bytesSent / 1048576.0 * 10) / 10.0),
                    series.values(s -> Math.round(s.dirtyRateMiBs * 10) / 10.0)));
            return series;
        }

        /**
         * Create on node-a, start there, migrate to node-b (timed: from the POST until GET ?wait answers COMPLETED),
         * check that node-b runs it, then stop and delete it.
         */
        Sample migrateOnce(Case c, String name) {
            String kind = c.load == Load.DIRTYING ? dirtyKind : "probe";
            String id = (String) Json.get(api.expect(201, "POST", "/api/v1/vms", vmBody(name, c.sizeMiB, kind)).json(),
                    "id");
            Api.Reply started = api.call("POST", "/api/v1/vms/" + id + "/start?wait=30", null);
            if (started.status() != 200 || !"RUNNING".equals(Json.get(started.json(), "phase"))
                    || !"node-a".equals(Json.get(started.json(), "node"))) {
                throw new BenchFailure("expected 200 with \"phase\":\"RUNNING\" on node-a:\n" + started);
            }
            if (c.load == Load.DIRTYING) {
                Bench.sleep(2000); // its working set written at least once, as for QEMU
            }
            String request = "{\"targetNode\":\"node-b\",\"downtimeLimitMs\":" + options.downtimeLimitMs + "}";
            long t0 = System.nanoTime();
            Api.Reply accepted = api.expect(202, "POST", "/api/v1/vms/" + id + "/migrations", request);
            String location = accepted.location().map(l -> l.replaceFirst("^https?://[^/]+", ""))
                    .orElseThrow(() -> new BenchFailure("202 without a Location header:\n" + accepted));
            Api.Reply finished = null;
            long deadline = t0 + TimeUnit.SECONDS.toNanos(options.migrationTimeoutSeconds);
            while (System.nanoTime() < deadline) {
                finished = api.expect(200, "GET", location + "?wait=30", null);
                Object phase = Json.get(finished.json(), "phase");
                if ("COMPLETED".equals(phase) || "FAILED".equals(phase) || "CANCELLED".equals(phase)) {
                    break;
                }
            }
            long t1 = System.nanoTime();
            Object migration = finished == null ? null : finished.json();
            if (!"COMPLETED".equals(Json.get(migration, "phase"))) {
                throw new BenchFailure("migration of " + c + " did not complete (within " + options.migrationTimeoutSeconds
                        + " s):\n" + accepted + "\n" + finished);
            }
            Api.Reply vm = api.expect(200, "GET", "/api/v1/vms/" + id, null);
            if (!"node-b".equals(Json.get(vm.json(), "node")) || !"RUNNING".equals(Json.get(vm.json(), "phase"))) {
                throw new BenchFailure("after COMPLETED the VM should run on node-b:\n" + vm);
            }
            Api.Reply stopped = api.call("POST", "/api/v1/vms/" + id + "/stop?wait=30", null);
            if (stopped.status() != 200 || !"STOPPED".equals(Json.get(stopped.json(), "phase"))) {
                throw new BenchFailure("expected 200 with \"phase\":\"STOPPED\":\n" + stopped);
            }
            api.expect(204, "DELETE", "/api/v1/vms/" + id, null);
            return new Sample(QemuSide.number(migration, "totalMs"), QemuSide.number(migration, "downtimeMs"),
                    guestDowntimeMs(migration), (t1 - t0) / 1e6, (long) QemuSide.number(migration, "rounds"),
                    (long) QemuSide.number(migration, "bytesSent"), QemuSide.number(migration, "dirtyRateMiBs"));
        }

        /** resumedAt - pausedAt of a migration, in ms (both instants to the microsecond), or NaN if either is missing. */
        static double guestDowntimeMs(Object migration) {
            Object paused = Json.get(migration, "pausedAt");
            Object resumed = Json.get(migration, "resumedAt");
            if (!(paused instanceof String) || !(resumed instanceof String)) {
                return Double.NaN;
            }
            return Duration.between(Instant.parse((String) paused), Instant.parse((String) resumed)).toNanos() / 1e6;
        }

        /** node-b first: it is a client of node-a's embedded database. */
        List<String> stop() {
            return List.of(b.stop(), a.stop());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Summary: one line per size and load, the goals, the raw samples.
    // ---------------------------------------------------------------------------------------------------------------

    /** The summary table's row: case, six "med / p90" columns, three ratios, the goal. */
    static final String ROW = "%-17s| %-19s| %-19s| %-19s| %-19s| %-19s| %-19s| %-6s %-6s %-7s | %s";

    static void summary(Report report, Options options, List<Case> cases, QemuSide qemu, Map<Case, Series> qemuResults,
                        Cluster cluster, Map<Case, Series> quarkvmResults, List<String> failures) {
        report.line("");
        report.line("=================================================================================================");
        report.line("RESULTS   (load average now " + Bench.firstLine(Path.of("/proc/loadavg")) + ")");
        report.line("quarkvm: " + (cluster == null ? "not run" : "node-a → node-b, POST /api/v1/vms/{id}/migrations"
                + " {targetNode, downtimeLimitMs:" + options.downtimeLimitMs + "}; total = totalMs, downtime ="
                + " downtimeMs as the service reports them, guest-observed = resumedAt − pausedAt; node-a "
                + cluster.hypervisors.get("node-a") + ", node-b " + cluster.hypervisors.get("node-b")));
        report.line("QEMU:    " + (qemu == null ? "not run" : qemu.binary.version() + ", -machine microvm -accel "
                + qemu.accel.toUpperCase(Locale.ROOT) + ", QMP migrate tcp:127.0.0.1 with downtime-limit "
                + options.downtimeLimitMs + " ms, max-bandwidth " + (options.qemuMaxBandwidthMiBs == 0 ? "unlimited"
                : options.qemuMaxBandwidthMiBs + " MiB/s") + "; total = total-time of query-migrate, downtime"
                + " self-reported = its downtime, guest-observed = target RESUME − source STOP (QMP event timestamps)"));
        report.line(String.format(Locale.ROOT, "dirtying: QEMU's guest rewrites a %d MiB working set at %d MiB/s"
                        + " (measured per run, above); quarkvm's: guest kind %s", options.dirtyWorkingSetMiB,
                options.dirtyRateMiBs, cluster == null ? "n/a" : cluster.dirtyKind == null ? "NONE (not measured)"
                        : "'" + cluster.dirtyKind + "' (its rate: dirtyRateMiBs above)"));
        report.line("median / p90 of " + options.runs + " runs each (after " + options.warmup + " warm-up), ms");
        report.line("");
        report.line(String.format(Locale.ROOT, ROW, "", "quarkvm total", "quarkvm downtime", "quarkvm downtime",
                "QEMU total", "QEMU downtime", "QEMU downtime", "total", "downt.", "downt.",
                "goal (guest-observed downtime"));
        report.line(String.format(Locale.ROOT, ROW, "", "", "reported", "guest-observed", "", "self-reported",
                "guest-observed", "ratio", "ratio", "ratio", "<= QEMU's, total <= 1.5x QEMU)"));
        report.line(String.format(Locale.ROOT, ROW, "case", "med / p90", "med / p90", "med / p90", "med / p90",
                "med / p90", "med / p90", "", "g-o", "rep/s-r", ""));
        report.line("-".repeat(17) + ("+" + "-".repeat(20)).repeat(6) + "+" + "-".repeat(23) + "+" + "-".repeat(32));
        for (Case c : cases) {
            Series q = quarkvmResults.get(c);
            Series e = qemuResults.get(c);
            double totalRatio = medianRatio(q, Sample::totalMs, e, Sample::totalMs);
            double guestObservedRatio = medianRatio(q, Sample::guestDowntimeMs, e, Sample::guestDowntimeMs);
            double reportedRatio = medianRatio(q, Sample::downtimeMs, e, Sample::downtimeMs);
            String goal = Double.isNaN(totalRatio) ? (q != null && q.skipped != null ? "not measured (no dirtying guest)"
                    : "n/a") : guestObservedRatio <= 1 && totalRatio <= 1.5 ? "GOAL MET" : "GOAL MISSED";
            report.line(String.format(Locale.ROOT, ROW, c, medP90(q, Sample::totalMs), medP90(q, Sample::downtimeMs),
                    medP90(q, Sample::guestDowntimeMs), medP90(e, Sample::totalMs), medP90(e, Sample::downtimeMs),
                    medP90(e, Sample::guestDowntimeMs), ratio(totalRatio), ratio(guestObservedRatio),
                    ratio(reportedRatio), goal));
        }
        report.line("quarkvm downtime (reported): the migration's downtimeMs, the source's pause request until the"
                + " target's answer (after its resume), on the source's clock alone");
        report.line("quarkvm downtime (guest-observed): the migration's resumedAt (the target's clock) minus its pausedAt"
                + " (the source's): both nodes on this host, one clock, µs");
        report.line("QEMU downtime (self-reported, source: stop → last byte sent): query-migrate's downtime, whole ms");
        report.line("QEMU downtime (guest-observed: source STOP → target RESUME): the target QEMU's RESUME event timestamp"
                + " minus the source QEMU's STOP event timestamp (QMP, µs, both from this host's wall clock)");
        report.line("downt. ratios, of medians: g-o = guest-observed over guest-observed (the goal); rep/s-r ="
                + " quarkvm's reported over QEMU's self-reported");
        report.line("");
        report.line("client: the bench's own wall time from the migrate request to seeing it completed, median ms"
                + " (quarkvm: POST .../migrations until GET /api/v1/migrations/{id}?wait=30 answers COMPLETED;"
                + " QEMU: QMP migrate until the MIGRATION event \"completed\")");
        for (Case c : cases) {
            report.line(String.format(Locale.ROOT, "  %-17s quarkvm %s   QEMU %s", c, medP90(quarkvmResults.get(c),
                    Sample::clientMs), medP90(qemuResults.get(c), Sample::clientMs)));
        }
        report.line("downtime: quarkvm's reported one runs on the source from asking the VM to pause until the"
                + " target's answer, which comes after the target resumed it. QEMU's self-reported one runs on the"
                + " source from stopping the VM until the last byte is sent: it leaves out the target loading the"
                + " device state and resuming the guest. The guest-observed ones run from the source's pause to the"
                + " target's resume on this host's clock (QEMU: STOP and RESUME events, which it sends just after"
                + " pausing and just before resuming the vCPUs; quarkvm: pausedAt just before asking the vCPUs to"
                + " pause, resumedAt just after asking them to run): the goal is judged on these, like for like");
        if (!failures.isEmpty()) {
            report.line("");
            report.line("*** BENCH FAILED (the numbers above are incomplete) ***");
            for (String failure : failures) {
                report.line(failure);
            }
        }
        report.line("=================================================================================================");
        report.line("raw samples, total/reported (QEMU: self-reported) downtime/guest-observed downtime, ms:");
        for (Case c : cases) {
            report.line("  " + c + " quarkvm: " + raw(quarkvmResults.get(c)));
            report.line("  " + c + " QEMU:    " + raw(qemuResults.get(c)));
        }
    }

    static boolean measured(Series series) {
        return series != null && !series.samples.isEmpty();
    }

    /** quarkvm's median of one field over QEMU's median of another; NaN unless both sides were measured. */
    static double medianRatio(Series quarkvm, java.util.function.ToDoubleFunction<Sample> quarkvmField, Series qemu,
                              java.util.function.ToDoubleFunction<Sample> qemuField) {
        return measured(quarkvm) && measured(qemu)
                ? Bench.median(quarkvm.values(quarkvmField)) / Bench.median(qemu.values(qemuField)) : Double.NaN;
    }

    static String medP90(Series series, java.util.function.ToDoubleFunction<Sample> field) {
        if (!measured(series)) {
            return series != null && series.skipped != null ? "not measured" : "n/a";
        }
        List<Double> values = series.values(field);
        return String.format(Locale.ROOT, "%8.1f / %8.1f", Bench.median(values), Bench.p90(values));
    }

    static String counts(List<Double> values) {
        return values.stream().map(v -> Long.toString(Math.round(v))).toList().toString();
    }

    /** A ratio of medians; "inf" when QEMU's median is 0 (its self-reported downtime is in whole ms). */
    static String ratio(double value) {
        return Double.isNaN(value) ? "n/a" : Double.isInfinite(value) ? "inf"
                : String.format(Locale.ROOT, "%.2f", value);
    }

    static String raw(Series series) {
        if (!measured(series)) {
            return series != null && series.skipped != null ? "not measured: " + series.skipped : "n/a";
        }
        StringBuilder out = new StringBuilder();
        for (Sample s : series.samples) {
            out.append(String.format(Locale.ROOT, "%.1f/%.1f", s.totalMs, s.downtimeMs));
            out.append(Double.isNaN(s.guestDowntimeMs) ? "  " : String.format(Locale.ROOT, "/%.1f  ", s.guestDowntimeMs));
        }
        return out.toString().strip();
    }
}

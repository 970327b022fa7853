import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Issue 3: how long quarkvm takes to start a VM through its REST API, next to how long QEMU takes to start and run
 * an equivalent tiny guest, and how much resident memory a running VM costs the service.
 *
 * <p>Run it through {@code bash bench/run} (builds the jar, installs QEMU if missing, compiles bench/, cleans up); by
 * hand: {@code javac -d /tmp/c bench/*.java && java -cp /tmp/c StartLatencyBench --work-dir=/tmp/x} from the
 * repository root. JDK only: java.net.http for the API and a 100-line JSON reader (Json.java, shared with the
 * migration bench), so the bench needs nothing the project does not.
 *
 * <p>Everything it talks to is on this machine: the service it starts itself on free localhost ports, and QEMU child
 * processes. Every loop is bounded in count and in time.
 */
public class StartLatencyBench {

    // ---------------------------------------------------------------------------------------------------------------
    // Options: --name=value; defaults are what issue 3 asks for.
    // ---------------------------------------------------------------------------------------------------------------

    static final class Options extends BenchOptions {
        List<Integer> sizes = List.of(1, 4, 64);
        int runs = 15;
        int warmup = 3;
        /** A size stops taking timed runs after this long (at least minRuns are always taken): 64 vCPUs are slow. */
        int maxSecondsPerSize = 240;
        int minRuns = 5;
        int memoryVms = 20;
        int memoryMiB = 16;
        String qemuMachine = "microvm";
        /** QEMU with its default firmware (SeaBIOS) booting a boot sector: seconds per run here, so only a few. */
        int seabiosRuns = 3;
        /** jcmd GC.run before each RSS reading, so that heap garbage does not drown a few MiB per VM. */
        boolean gcBeforeRss = true;

        Options() {
            super(Path.of("bench/results/latest.txt"));
        }

        static Options parse(String[] args) {
            Options o = new Options();
            o.read(args);
            o.minRuns = Math.min(o.minRuns, o.runs);
            return o;
        }

        @Override
        boolean set(String name, String value) {
            switch (name) {
                case "sizes" -> sizes = Arrays.stream(value.split(",")).map(String::trim).map(Integer::valueOf).toList();
                case "runs" -> runs = Integer.parseInt(value);
                case "warmup" -> warmup = Integer.parseInt(value);
                case "max-seconds-per-size" -> maxSecondsPerSize = Integer.parseInt(value);
                case "min-runs" -> minRuns = Integer.parseInt(value);
                case "memory-vms" -> memoryVms = Integer.parseInt(value);
                case "memory-mib" -> memoryMiB = Integer.parseInt(value);
                case "qemu-machine" -> qemuMachine = value;
                case "seabios-runs" -> seabiosRuns = Integer.parseInt(value);
                case "gc" -> gcBeforeRss = Boolean.parseBoolean(value);
                default -> {
                    return false;
                }
            }
            return true;
        }

        @Override
        String usage() {
            return "--sizes=1,4,64 --runs=15 --warmup=3"
                    + " --max-seconds-per-size=240 --min-runs=5 --memory-vms=20 --memory-mib=16"
                    + " --qemu-machine=microvm --seabios-runs=3 --gc=true";
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Main: service up, latency, QEMU anchor, memory, report; the service is stopped whatever happens.
    // ---------------------------------------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        Options options = Options.parse(args);
        if (options.workDir == null) {
            options.workDir = Files.createTempDirectory("quarkvm-bench");
        }
        Files.createDirectories(options.workDir);
        Report report = new Report();
        report.header("quarkvm start-latency bench (issue 3)", options.jar, options.workDir);

        Service service = null;
        int exitCode = 0;
        try {
            report.line("starting the service: " + options.jar);
            int[] ports = Bench.freePorts(2); // HTTP, embedded PostgreSQL
            service = Service.start(options.jar, options.workDir, "quarkvm", ports[0],
                    List.of("-Dquarkvm.embedded-db.port=" + ports[1]), Map.of(), null);
            Service running = service;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> running.stopQuietly()));
            report.line(String.format(Locale.ROOT, "service ready at %s (pid %d) after %.1f s", service.base,
                    service.pid(), service.readySeconds));

            Api api = new Api(service);
            Map<Integer, LatencyResult> quarkvm = new LinkedHashMap<>();
            for (int vcpus : options.sizes) {
                quarkvm.put(vcpus, measureQuarkvm(api, options, vcpus, report));
            }

            Qemu qemu = Qemu.prepare(options, report);
            Map<Integer, LatencyResult> qemuFast = new LinkedHashMap<>();
            Map<Integer, LatencyResult> qemuSeabios = new LinkedHashMap<>();
            if (qemu != null) {
                for (int vcpus : options.sizes) {
                    qemuFast.put(vcpus, qemu.measure(vcpus, options.warmup, quarkvm.get(vcpus).samples.size(), report));
                }
                if (options.seabiosRuns > 0) {
                    for (int vcpus : options.sizes) {
                        qemuSeabios.put(vcpus, qemu.measureSeabios(vcpus, options.seabiosRuns, report));
                    }
                }
            }

            MemoryResult memory = measureMemory(api, service, options, report);
            QemuMemory qemuMemory = qemu == null ? null : qemu.memory(report);

            boolean identityOk = summary(report, options, quarkvm, qemuFast, qemuSeabios, qemu, memory, qemuMemory);
            if (!identityOk) {
                exitCode = 2;
            }
        } catch (BenchFailure e) {
            report.line("");
            report.line("BENCH FAILED: " + e.getMessage());
            if (service != null) {
                report.line(service.describeState());
            }
            exitCode = 1;
        } finally {
            if (service != null) {
                report.line(service.stop());
            }
            report.write(options.results);
        }
        System.exit(exitCode);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // quarkvm: create → timed start?wait=30 → identity check → stop → delete.
    // ---------------------------------------------------------------------------------------------------------------

    static final class LatencyResult {
        final List<Double> samples = new ArrayList<>();
        /**
         * Per timed run: the latest reportedAt of the boot minus the moment the start request was sent (same host
         * clock). The service stamps reportedAt when it writes the report to PostgreSQL, so this is when the last
         * report was persisted: an upper bound of when the guest reported.
         */
        final List<Double> allReported = new ArrayList<>();
        final List<String> identityViolations = new ArrayList<>();
        /** Mean of the service's own quarkvm.vm.start timer over the timed runs, ms; NaN when it is not there. */
        double serviceMeanMs = Double.NaN;
    }

    static LatencyResult measureQuarkvm(Api api, Options options, int vcpus, Report report) {
        LatencyResult result = new LatencyResult();
        report.line("");
        report.line("quarkvm, " + vcpus + " vCPU(s): " + options.warmup + " warm-up run(s), then up to " + options.runs
                + " timed (budget " + options.maxSecondsPerSize + " s)");
        for (int i = 0; i < options.warmup; i++) {
            oneQuarkvmStart(api, options, vcpus, "bench-" + vcpus + "-w" + i, null);
        }
        double[] metricBefore = startMetric(api);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(options.maxSecondsPerSize);
        for (int i = 0; i < options.runs; i++) {
            if (i >= options.minRuns && System.nanoTime() > deadline) {
                report.line("  time budget used up after " + i + " timed runs");
                break;
            }
            oneQuarkvmStart(api, options, vcpus, "bench-" + vcpus + "-" + i, result);
        }
        double[] metricAfter = startMetric(api);
        if (metricBefore != null && metricAfter != null && metricAfter[0] > metricBefore[0]) {
            result.serviceMeanMs = (metricAfter[1] - metricBefore[1]) / (metricAfter[0] - metricBefore[0]) * 1000;
        }
        report.line(String.format(Locale.ROOT, "  start ms: %s", Bench.formatSamples(result.samples)));
        report.line(String.format(Locale.ROOT, "  service-side quarkvm.vm.start (reconciler took the start up → every"
                + " boot vCPU reported), mean of %.0f: %.1f ms", metricAfter == null || metricBefore == null ? 0
                : metricAfter[0] - metricBefore[0], result.serviceMeanMs));
        report.line(String.format(Locale.ROOT, "  last reportedAt persisted, ms after the request was sent: %s",
                Bench.formatSamples(result.allReported)));
        for (String violation : result.identityViolations) {
            report.line("  IDENTITY CHECK FAILED: " + violation);
        }
        return result;
    }

    /** One create/start/stop/delete cycle; timed and checked when {@code result} is not null (warm-ups are not). */
    static void oneQuarkvmStart(Api api, Options options, int vcpus, String name, LatencyResult result) {
        String body = "{\"name\":\"" + name + "\",\"machineType\":\"quarkvm-3.0\",\"topology\":{\"sockets\":1,\"dies\":1,"
                + "\"cores\":" + vcpus + ",\"threads\":1},\"memoryMiB\":" + options.memoryMiB + "}";
        String id = (String) Json.get(api.expect(201, "POST", "/api/v1/vms", body).json(), "id");

        Instant sent = Instant.now();
        long t0 = System.nanoTime();
        Api.Reply start = api.call("POST", "/api/v1/vms/" + id + "/start?wait=30", null);
        long t1 = System.nanoTime();
        if (start.status() != 200 || !"RUNNING".equals(Json.get(start.json(), "phase"))) {
            throw new BenchFailure("expected 200 with \"phase\":\"RUNNING\":\n" + start);
        }

        if (result != null) {
            result.samples.add((t1 - t0) / 1e6);
            // Outside the timed part: the 200 must mean that every boot vCPU of the probe has reported its identity.
            IdentityCheck check = IdentityCheck.read(api, id, vcpus);
            if (!check.complete()) {
                result.identityViolations.add(String.format(Locale.ROOT,
                        "%s: start answered 200 RUNNING after %.1f ms, but GET .../guest-identity then showed %d of %d"
                                + " boot vCPUs with reportedAt null (last boot %s)",
                        name, (t1 - t0) / 1e6, check.missing, vcpus, check.boot));
                check = IdentityCheck.awaitComplete(api, id, vcpus, Duration.ofSeconds(30));
            }
            if (check.complete() && check.lastReported != null) {
                result.allReported.add(Duration.between(sent, check.lastReported).toNanos() / 1e6);
            }
        }

        Api.Reply stop = api.call("POST", "/api/v1/vms/" + id + "/stop?wait=30", null);
        if (stop.status() != 200 || !"STOPPED".equals(Json.get(stop.json(), "phase"))) {
            throw new BenchFailure("expected 200 with \"phase\":\"STOPPED\":\n" + stop);
        }
        api.expect(204, "DELETE", "/api/v1/vms/" + id, null);
    }

    /**
     * {count, sum in seconds} of the service's timer quarkvm.vm.start from /q/metrics (Prometheus text), or null.
     * Only starts whose every boot vCPU reported within the reconciler's wait are in it.
     */
    static double[] startMetric(Api api) {
        Api.Reply metrics = api.call("GET", "/q/metrics", null);
        if (metrics.status() != 200) {
            return null;
        }
        double count = Double.NaN, sum = Double.NaN;
        for (String line : metrics.body().split("\n")) {
            if (line.startsWith("quarkvm_vm_start_seconds_count ")) {
                count = Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
            } else if (line.startsWith("quarkvm_vm_start_seconds_sum ")) {
                sum = Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
            }
        }
        return Double.isNaN(count) || Double.isNaN(sum) ? null : new double[] {count, sum};
    }

    /** What GET /api/v1/vms/{id}/guest-identity says about the last boot. */
    record IdentityCheck(Object boot, int vcpusInBoot, int missing, Instant lastReported) {
        boolean complete() {
            return missing == 0;
        }

        static IdentityCheck read(Api api, String id, int expectedVcpus) {
            Object json = api.expect(200, "GET", "/api/v1/vms/" + id + "/guest-identity", null).json();
            List<?> boots = (List<?>) Json.get(json, "boots");
            if (boots == null || boots.isEmpty()) {
                return new IdentityCheck(null, 0, expectedVcpus, null);
            }
            Map<?, ?> last = (Map<?, ?>) boots.get(0);
            for (Object boot : boots) { // the highest boot number, whatever the order of the list
                if (((Number) ((Map<?, ?>) boot).get("boot")).longValue() > ((Number) last.get("boot")).longValue()) {
                    last = (Map<?, ?>) boot;
                }
            }
            List<?> vcpus = (List<?>) last.get("vcpus");
            int missing = Math.max(0, expectedVcpus - vcpus.size());
            Instant latest = null;
            for (Object vcpu : vcpus) {
                Object reportedAt = ((Map<?, ?>) vcpu).get("reportedAt");
                if (reportedAt == null) {
                    missing++;
                } else {
                    Instant at = Instant.parse((String) reportedAt);
                    latest = latest == null || at.isAfter(latest) ? at : latest;
                }
            }
            return new IdentityCheck(last.get("boot"), vcpus.size(), missing, latest);
        }

        static IdentityCheck awaitComplete(Api api, String id, int vcpus, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            IdentityCheck check = read(api, id, vcpus);
            while (!check.complete() && System.nanoTime() < deadline) {
                Bench.sleep(50);
                check = read(api, id, vcpus);
            }
            return check;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Memory: the service's RSS with 0 VMs, then with N running 1-vCPU VMs; guest pages are taken out.
    // ---------------------------------------------------------------------------------------------------------------

    record ProcStatus(long vmRssKb, long rssAnonKb, long rssFileKb, long threads) {
        static ProcStatus of(long pid) {
            Map<String, Long> values = new HashMap<>();
            for (String line : Bench.readLines(Path.of("/proc/" + pid + "/status"))) {
                String[] kv = line.split(":\\s+", 2);
                if (kv.length == 2 && kv[1].matches("\\d+( kB)?")) {
                    values.put(kv[0], Long.parseLong(kv[1].replace(" kB", "")));
                }
            }
            return new ProcStatus(values.getOrDefault("VmRSS", -1L), values.getOrDefault("RssAnon", -1L),
                    values.getOrDefault("RssFile", -1L), values.getOrDefault("Threads", -1L));
        }
    }

    /** One line of /proc/PID/smaps with the fields the bench needs. */
    record Vma(long start, long end, String perms, long inode, String path, long rssKb, String flags) {
        long sizeBytes() {
            return end - start;
        }

        boolean anonymousPrivateRw() {
            return perms.equals("rw-p") && inode == 0 && path.isEmpty();
        }

        static List<Vma> of(long pid) {
            List<Vma> vmas = new ArrayList<>();
            long start = 0, end = 0, inode = 0, rss = 0;
            String perms = "", path = "";
            for (String line : Bench.readLines(Path.of("/proc/" + pid + "/smaps"))) {
                if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                    String[] f = line.trim().split("\\s+", 6);
                    String[] range = f[0].split("-");
                    start = Long.parseUnsignedLong(range[0], 16);
                    end = Long.parseUnsignedLong(range[1], 16);
                    perms = f[1];
                    inode = Long.parseLong(f[4]);
                    path = f.length > 5 ? f[5] : "";
                    rss = 0;
                } else if (line.startsWith("Rss:")) {
                    rss = Long.parseLong(line.replaceAll("\\D", ""));
                } else if (line.startsWith("VmFlags:")) { // the last field of each mapping
                    vmas.add(new Vma(start, end, perms, inode, path, rss, line.substring(8).trim()));
                }
            }
            return vmas;
        }
    }

    record MemoryResult(int vms, ProcStatus before, ProcStatus after, int guestMappingsFound, long guestTouchedKb,
                        String guestTouchedHow, HeapView heapBefore, HeapView heapAfter) {
        double perVmKb(long deltaKb) {
            return (deltaKb - guestTouchedKb) / (double) vms;
        }
    }

    static MemoryResult measureMemory(Api api, Service service, Options options, Report report) {
        report.line("");
        report.line("memory: the service's RSS with 0 VMs, then with " + options.memoryVms + " running 1-vCPU VMs of "
                + options.memoryMiB + " MiB");
        Object list = api.expect(200, "GET", "/api/v1/vms?size=1", null).json();
        if (((Number) Json.get(list, "total")).longValue() != 0) {
            throw new BenchFailure("expected no VMs before the memory measurement, GET /api/v1/vms says " + list);
        }
        ProcStatus before = settledStatus(service, options, report);
        List<Vma> vmasBefore = Vma.of(service.pid());
        HeapView heapBefore = HeapView.of(service.pid(), vmasBefore);

        List<String> ids = new ArrayList<>();
        try {
            for (int i = 0; i < options.memoryVms; i++) {
                String body = "{\"name\":\"bench-mem-" + i + "\",\"machineType\":\"quarkvm-3.0\",\"topology\":"
                        + "{\"sockets\":1,\"dies\":1,\"cores\":1,\"threads\":1},\"memoryMiB\":" + options.memoryMiB + "}";
                String id = (String) Json.get(api.expect(201, "POST", "/api/v1/vms", body).json(), "id");
                ids.add(id);
                Api.Reply start = api.call("POST", "/api/v1/vms/" + id + "/start?wait=30", null);
                if (start.status() != 200 || !"RUNNING".equals(Json.get(start.json(), "phase"))) {
                    throw new BenchFailure("expected 200 with \"phase\":\"RUNNING\":\n" + start);
                }
            }
            Bench.sleep(2000); // let every guest get through its first loop turns
            ProcStatus after = settledStatus(service, options, report);
            List<Vma> vmasAfter = Vma.of(service.pid());
            HeapView heapAfter = HeapView.of(service.pid(), vmasAfter);
            GuestPages guest = GuestPages.newGuestMappings(service.pid(), vmasBefore, vmasAfter,
                    options.memoryMiB * 1024L * 1024L);
            long touchedKb;
            String how;
            if (guest.mappings == options.memoryVms) {
                touchedKb = guest.presentKb;
                how = String.format(Locale.ROOT, "measured: %d new %d-MiB guest RAM mappings found in smaps, %d KiB of"
                        + " them resident by /proc/PID/pagemap (%.1f KiB per VM)", guest.mappings, options.memoryMiB,
                        touchedKb, touchedKb / (double) options.memoryVms);
            } else {
                // The probe guest and its boot structures live in the first 2 MiB of guest memory (GuestLayout).
                touchedKb = options.memoryVms * 2048L;
                how = "UPPER BOUND used: found " + guest.mappings + " new guest RAM mappings instead of "
                        + options.memoryVms + ", so guest pages touched are taken as 2 MiB per VM (everything the probe"
                        + " guest uses lies in its first 2 MiB)";
            }
            report.line("  " + how);
            return new MemoryResult(options.memoryVms, before, after, guest.mappings, touchedKb, how, heapBefore,
                    heapAfter);
        } finally {
            try {
                for (String id : ids) { // bounded: one stop and one delete per VM this phase created
                    api.call("POST", "/api/v1/vms/" + id + "/stop?wait=30", null);
                    api.call("DELETE", "/api/v1/vms/" + id, null);
                }
            } catch (BenchFailure cleanupFailed) {
                report.line("  clean-up of the memory VMs failed: " + cleanupFailed.getMessage());
            }
        }
    }

    /**
     * A cross-check that does not depend on how much heap G1 keeps committed: the Java heap's used bytes (after the
     * GC that precedes each reading) and the RSS of every mapping outside the Java heap's address range, both from
     * {@code jcmd PID GC.heap_info} ("garbage-first heap total 98304K, used 27071K [0x..., 0x...)") and smaps.
     */
    record HeapView(long heapUsedKb, long rssOutsideHeapKb) {
        static HeapView of(long pid, List<Vma> vmas) {
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            if (!Files.isExecutable(jcmd)) {
                return null;
            }
            String info = ProcessResult.run(List.of(jcmd.toString(), Long.toString(pid), "GC.heap_info"),
                    Duration.ofSeconds(60)).output();
            java.util.regex.Matcher m = java.util.regex.Pattern
                    .compile("heap\\s+total \\d+K, used (\\d+)K \\[0x([0-9a-f]+), 0x([0-9a-f]+)\\)").matcher(info);
            if (!m.find()) {
                return null;
            }
            long low = Long.parseUnsignedLong(m.group(2), 16);
            long high = Long.parseUnsignedLong(m.group(3), 16);
            long outside = 0;
            for (Vma vma : vmas) {
                if (vma.end <= low || vma.start >= high) {
                    outside += vma.rssKb;
                }
            }
            return new HeapView(Long.parseLong(m.group(1)), outside);
        }
    }

    /** /proc/PID/status after an optional full GC (jcmd GC.run) and a short pause. */
    static ProcStatus settledStatus(Service service, Options options, Report report) {
        if (options.gcBeforeRss) {
            Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
            if (Files.isExecutable(jcmd)) {
                ProcessResult gc = ProcessResult.run(List.of(jcmd.toString(), Long.toString(service.pid()), "GC.run"),
                        Duration.ofSeconds(60));
                if (gc.exitCode() != 0) {
                    report.line("  (jcmd GC.run failed: " + gc.output().strip() + ")");
                }
            } else {
                report.line("  (no jcmd next to this java: RSS read without a GC first)");
            }
        }
        Bench.sleep(1000);
        ProcStatus status = ProcStatus.of(service.pid());
        report.line(String.format(Locale.ROOT, "  VmRSS %d KiB, RssAnon %d KiB, RssFile %d KiB, %d threads",
                status.vmRssKb, status.rssAnonKb, status.rssFileKb, status.threads));
        return status;
    }

    /**
     * Guest RAM of the VMs started in between two smaps readings. The service maps each VM's RAM as one anonymous
     * MAP_NORESERVE region ("nr" in VmFlags); the kernel may merge it with a neighbouring region of the same kind (two
     * guests, or a malloc arena), so a guest's mapping is found as address space that is rw, anonymous, "nr" now and
     * was not mapped at all before, in runs whose length is a multiple of the guest's size. What of it is resident
     * comes from /proc/PID/pagemap (bit 63: page present), one 8-byte entry per 4 KiB page.
     */
    record GuestPages(int mappings, long presentKb) {
        static GuestPages newGuestMappings(long pid, List<Vma> before, List<Vma> after, long guestBytes) {
            List<long[]> fresh = new ArrayList<>();
            for (Vma vma : after) {
                if (vma.anonymousPrivateRw() && (" " + vma.flags + " ").contains(" nr ")) {
                    fresh.addAll(subtract(vma.start, vma.end, before));
                }
            }
            fresh.sort((a, b) -> Long.compare(a[0], b[0]));
            List<long[]> runs = new ArrayList<>();
            for (long[] range : fresh) {
                if (!runs.isEmpty() && runs.get(runs.size() - 1)[1] == range[0]) {
                    runs.get(runs.size() - 1)[1] = range[1];
                } else {
                    runs.add(range.clone());
                }
            }
            int mappings = 0;
            long presentPages = 0;
            try (RandomAccessFile pagemap = new RandomAccessFile("/proc/" + pid + "/pagemap", "r")) {
                for (long[] run : runs) {
                    long size = run[1] - run[0];
                    if (size > 0 && size % guestBytes == 0) {
                        mappings += (int) (size / guestBytes);
                        presentPages += presentPages(pagemap, run[0], run[1]);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new GuestPages(mappings, presentPages * 4);
        }

        static long presentPages(RandomAccessFile pagemap, long start, long end) throws IOException {
            long pages = (end - start) / 4096;
            byte[] entries = new byte[(int) (pages * 8)];
            pagemap.seek(start / 4096 * 8);
            pagemap.readFully(entries);
            long present = 0;
            for (int i = 0; i < pages; i++) {
                if ((entries[i * 8 + 7] & 0x80) != 0) { // little-endian u64, bit 63
                    present++;
                }
            }
            return present;
        }

        /** [start, end) minus every mapping in {@code others}. */
        static List<long[]> subtract(long start, long end, List<Vma> others) {
            List<long[]> pieces = new ArrayList<>(List.of(new long[] {start, end}));
            for (Vma other : others) {
                List<long[]> next = new ArrayList<>();
                for (long[] piece : pieces) {
                    if (other.end <= piece[0] || other.start >= piece[1]) {
                        next.add(piece);
                        continue;
                    }
                    if (other.start > piece[0]) {
                        next.add(new long[] {piece[0], other.start});
                    }
                    if (other.end < piece[1]) {
                        next.add(new long[] {other.end, piece[1]});
                    }
                }
                pieces = next;
            }
            return pieces;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // QEMU: a guest built here, byte by byte, and the time from spawning qemu-system-x86_64 to its exit.
    // ---------------------------------------------------------------------------------------------------------------

    record QemuMemory(ProcStatus status, long guestTouchedKb, boolean guestMappingFound, String command) {
    }

    static final class Qemu {
        final String binary;
        final String version;
        final String accel;
        final String machine;
        final int memoryMiB;
        final Path dir;

        Qemu(String binary, String version, String accel, String machine, int memoryMiB, Path dir) {
            this.binary = binary;
            this.version = version;
            this.accel = accel;
            this.machine = machine;
            this.memoryMiB = memoryMiB;
            this.dir = dir;
        }

        /** Finds QEMU, writes the guests and checks that KVM acceleration works for it (else TCG, labelled). */
        static Qemu prepare(Options options, Report report) {
            report.line("");
            Optional<QemuBinary> binary = QemuBinary.find();
            if (binary.isEmpty()) {
                report.line("QEMU: qemu-system-x86_64 not found (bench/run installs it with apt-get): no QEMU anchor");
                return null;
            }
            Path dir = options.workDir.resolve("qemu");
            try {
                Files.createDirectories(dir);
                Files.write(dir.resolve("spin.rom"), Guests.firmware(0, true));
                Files.write(dir.resolve("bootsector.bin"), Guests.bootSector());
                for (int vcpus : options.sizes) {
                    Files.write(dir.resolve("smp" + vcpus + ".rom"), Guests.firmware(vcpus, false));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            String firstLine = binary.get().version();
            for (String accel : List.of("kvm", "tcg")) {
                Qemu qemu = new Qemu(binary.get().path(), firstLine, accel, options.qemuMachine, options.memoryMiB, dir);
                ProcessResult probe = ProcessResult.run(qemu.command(1, "smp1.rom"), Duration.ofSeconds(30));
                if (probe.exitCode() == 1) {
                    report.line("QEMU: " + firstLine + ", -machine " + qemu.machine + " -accel " + accel
                            + (accel.equals("kvm") ? "" : "   *** TCG: KVM acceleration did not work for QEMU here ***"));
                    return qemu;
                }
                report.line("QEMU with -accel " + accel + " did not run the guest (exit " + probe.exitCode() + "): "
                        + probe.output().strip());
            }
            throw new BenchFailure("QEMU runs neither with KVM nor with TCG; see above");
        }

        List<String> command(int vcpus, String firmware) {
            return List.of(binary, "-machine", machine, "-accel", accel, "-smp", Integer.toString(vcpus), "-m",
                    Integer.toString(memoryMiB), "-display", "none", "-nodefaults", "-no-reboot",
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-bios", dir.resolve(firmware).toString());
        }

        List<String> seabiosCommand(int vcpus) {
            return List.of(binary, "-machine", "pc", "-accel", accel, "-smp", Integer.toString(vcpus), "-m",
                    Integer.toString(memoryMiB),
                    "-display", "none", "-nodefaults", "-no-reboot",
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                    "-drive", "format=raw,file=" + dir.resolve("bootsector.bin") + ",if=ide");
        }

        LatencyResult measure(int vcpus, int warmup, int runs, Report report) {
            LatencyResult result = timeRuns(command(vcpus, "smp" + vcpus + ".rom"), warmup, runs, Duration.ofSeconds(60));
            report.line(String.format(Locale.ROOT, "QEMU %s, %d vCPU(s), %d timed runs after %d warm-up: %s", machine,
                    vcpus, runs, warmup, Bench.formatSamples(result.samples)));
            return result;
        }

        LatencyResult measureSeabios(int vcpus, int runs, Report report) {
            LatencyResult result = timeRuns(seabiosCommand(vcpus), 0, runs, Duration.ofSeconds(120));
            report.line(String.format(Locale.ROOT, "QEMU pc + SeaBIOS + boot sector, %d vCPU(s), %d runs: %s", vcpus,
                    runs, Bench.formatSamples(result.samples)));
            return result;
        }

        /** Spawn → exit, in ms; exit status 1 is the guest's "out 0xf4 ← 0" ((0 << 1) | 1), anything else fails. */
        static LatencyResult timeRuns(List<String> command, int warmup, int runs, Duration timeout) {
            LatencyResult result = new LatencyResult();
            for (int i = 0; i < warmup + runs; i++) {
                long t0 = System.nanoTime();
                ProcessResult run = ProcessResult.run(command, timeout);
                long t1 = System.nanoTime();
                if (run.exitCode() != 1) {
                    throw new BenchFailure("QEMU did not exit through isa-debug-exit (exit " + run.exitCode()
                            + (run.timedOut() ? ", timed out" : "") + "): " + String.join(" ", command) + "\n"
                            + run.output().strip());
                }
                if (i >= warmup) {
                    result.samples.add((t1 - t0) / 1e6);
                }
            }
            return result;
        }

        /** RSS of one running 1-vCPU QEMU whose guest spins forever, read after 1 s; then it is killed. */
        QemuMemory memory(Report report) {
            List<String> command = command(1, "spin.rom");
            Process process = null;
            try {
                process = new ProcessBuilder(command).redirectErrorStream(true)
                        .redirectOutput(dir.resolve("spin.log").toFile()).start();
                Bench.sleep(1000);
                if (!process.isAlive()) {
                    throw new BenchFailure("the spinning QEMU guest exited early (" + process.exitValue() + "): "
                            + Files.readString(dir.resolve("spin.log")));
                }
                ProcStatus status = ProcStatus.of(process.pid());
                // Guest RAM: QEMU's anonymous mapping of exactly the guest's size.
                long guestBytes = memoryMiB * 1024L * 1024L;
                long touchedKb = 0;
                boolean found = false;
                try (RandomAccessFile pagemap = new RandomAccessFile("/proc/" + process.pid() + "/pagemap", "r")) {
                    for (Vma vma : Vma.of(process.pid())) {
                        if (vma.anonymousPrivateRw() && vma.sizeBytes() == guestBytes && !found) {
                            touchedKb = GuestPages.presentPages(pagemap, vma.start, vma.end) * 4;
                            found = true;
                        }
                    }
                }
                report.line(String.format(Locale.ROOT, "QEMU (%s, 1 vCPU spinning, %d MiB) after 1 s: VmRSS %d KiB,"
                                + " RssAnon %d KiB, RssFile %d KiB; guest RAM resident %s", machine, memoryMiB,
                        status.vmRssKb, status.rssAnonKb, status.rssFileKb,
                        found ? touchedKb + " KiB" : "(guest RAM mapping not found)"));
                return new QemuMemory(status, touchedKb, found, String.join(" ", command));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                if (process != null) {
                    process.destroyForcibly();
                    Bench.waitFor(process, Duration.ofSeconds(10));
                }
            }
        }
    }

    /**
     * The QEMU guests, as bytes with their assembly beside them. No assembler, no downloaded image: the bench writes
     * them each run.
     */
    static final class Guests {

        /**
         * A 64 KiB firmware image for {@code -bios}: QEMU maps it just below 4 GiB and again at 0xF0000, and the
         * bootstrap processor starts at its last 16 bytes (reset vector, real mode, CS base 0xFFFF0000, IP 0xFFF0).
         * Nothing else runs before it: no SeaBIOS, no PCI or ACPI set-up.
         *
         * <p>Like quarkvm's probe, it is only done when every vCPU has run guest code: the BSP switches its local APIC
         * to x2APIC mode, sends INIT and then a start-up IPI to all other vCPUs, whose start address 0xF0000 is the
         * first byte of this image; each of them atomically increments a counter at 0x500 and halts. The BSP waits for
         * the counter to reach vcpus - 1, then writes 0 to port 0xF4 (isa-debug-exit), so QEMU exits with status 1.
         *
         * @param spin instead of all that, {@code cli; jmp $}: a guest that loops forever (for the RSS reading)
         */
        static byte[] firmware(int vcpus, boolean spin) {
            byte[] rom = new byte[64 * 1024];
            // Application processors: start-up IPI vector 0xF0 → CS = 0xF000, IP = 0 → this image's offset 0.
            put(rom, 0x0000,
                    0xFA,                          // cli
                    0x31, 0xC0,                    // xor ax, ax
                    0x8E, 0xD8,                    // mov ds, ax
                    0xF0, 0xFF, 0x06, 0x00, 0x05,  // lock inc word [0x0500]   ; "this vCPU ran"
                    0xF4,                          // .halt: hlt
                    0xEB, 0xFD);                   // jmp .halt
            int waitFor = Math.max(0, vcpus - 1);
            byte[] bsp = spin
                    ? bytes(0xFA,                  // cli
                            0xEB, 0xFE)            // jmp $                    ; spin forever
                    : bytes(0xFA,                                  // cli
                            0x31, 0xC0,                            // xor ax, ax
                            0x8E, 0xD8,                            // mov ds, ax
                            0xC7, 0x06, 0x00, 0x05, 0x00, 0x00,    // mov word [0x0500], 0
                            0x66, 0xB9, 0x1B, 0x00, 0x00, 0x00,    // mov ecx, 0x1B            ; IA32_APIC_BASE
                            0x0F, 0x32,                            // rdmsr
                            0x66, 0x0D, 0x00, 0x0C, 0x00, 0x00,    // or eax, 0xC00            ; enable + x2APIC
                            0x0F, 0x30,                            // wrmsr
                            0x66, 0xB9, 0x30, 0x08, 0x00, 0x00,    // mov ecx, 0x830           ; x2APIC ICR
                            0x66, 0x31, 0xD2,                      // xor edx, edx
                            0x66, 0xB8, 0x00, 0x45, 0x0C, 0x00,    // mov eax, 0x000C4500      ; INIT, all but self
                            0x0F, 0x30,                            // wrmsr
                            0x66, 0xB8, 0xF0, 0x46, 0x0C, 0x00,    // mov eax, 0x000C46F0      ; SIPI 0xF0, all but self
                            0x0F, 0x30,                            // wrmsr
                            0x0F, 0x30,                            // wrmsr                    ; second SIPI (MP spec)
                            0x81, 0x3E, 0x00, 0x05,                // .wait: cmp word [0x0500], vcpus - 1
                            waitFor & 0xFF, waitFor >> 8,
                            0x72, 0xF8,                            // jb .wait
                            0xB0, 0x00,                            // mov al, 0
                            0xE6, 0xF4,                            // out 0xF4, al             ; isa-debug-exit → exit 1
                            0xF4,                                  // .halt: hlt
                            0xEB, 0xFD);                           // jmp .halt
            System.arraycopy(bsp, 0, rom, 0x0100, bsp.length);
            // Reset vector at 0xFFF0: jmp near 0x0100 (IP wraps: 0xFFF3 + 0x010D = 0x0100 mod 64 KiB).
            put(rom, 0xFFF0, 0xE9, 0x0D, 0x01);
            return rom;
        }

        /** A 512-byte MBR boot sector for SeaBIOS (loaded at 0x7C00): exit QEMU at once through isa-debug-exit. */
        static byte[] bootSector() {
            byte[] sector = new byte[512];
            put(sector, 0,
                    0xB0, 0x00,                    // mov al, 0
                    0xE6, 0xF4,                    // out 0xF4, al             ; isa-debug-exit → exit status 1
                    0xF4,                          // .halt: hlt
                    0xEB, 0xFD);                   // jmp .halt
            put(sector, 510, 0x55, 0xAA);          // boot signature
            return sector;
        }

        private static byte[] bytes(int... values) {
            byte[] out = new byte[values.length];
            for (int i = 0; i < values.length; i++) {
                out[i] = (byte) values[i];
            }
            return out;
        }

        private static void put(byte[] target, int offset, int... values) {
            byte[] b = bytes(values);
            System.arraycopy(b, 0, target, offset, b.length);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Summary: the table, the goals, the raw samples; written with everything else to bench/results/latest.txt.
    // ---------------------------------------------------------------------------------------------------------------

    static boolean summary(Report report, Options options, Map<Integer, LatencyResult> quarkvm, Map<Integer, LatencyResult> qemuFast,
                           Map<Integer, LatencyResult> qemuSeabios, Qemu qemu, MemoryResult memory, QemuMemory qemuMemory) {
        boolean identityOk = true;
        report.line("");
        report.line("=================================================================================================");
        report.line("RESULTS   (load average now " + Bench.firstLine(Path.of("/proc/loadavg")) + ")");
        report.line("quarkvm: POST /api/v1/vms/{id}/start?wait=30 until 200 \"phase\":\"RUNNING\", client wall time");
        report.line("QEMU:    spawn of qemu-system-x86_64 until it exits, " + (qemu == null ? "n/a"
                : "-machine " + qemu.machine + " -accel " + qemu.accel.toUpperCase(Locale.ROOT)
                + ", generated 64 KiB -bios image that starts every vCPU (" + qemu.version + ")"));
        report.line("");
        report.line(String.format(Locale.ROOT, "%6s | %12s %9s %5s | %12s %9s %5s | %7s | %s", "vCPUs", "quarkvm med",
                "p90", "runs", "QEMU med", "p90", "runs", "ratio", "last reportedAt (med) / identity check"));
        report.line("-------+------------------------------+------------------------------+---------+----------------------");
        for (int vcpus : quarkvm.keySet()) {
            LatencyResult q = quarkvm.get(vcpus);
            LatencyResult e = qemuFast.get(vcpus);
            String ratio = e == null || e.samples.isEmpty() ? "n/a"
                    : String.format(Locale.ROOT, "%.3f", Bench.median(q.samples) / Bench.median(e.samples));
            String check = q.identityViolations.isEmpty() ? "ok (" + q.samples.size() + "/" + q.samples.size() + ")"
                    : "FAILED in " + q.identityViolations.size() + "/" + q.samples.size() + " runs";
            identityOk &= q.identityViolations.isEmpty();
            report.line(String.format(Locale.ROOT, "%6d | %9.1f ms %6.1f ms %5d | %9s ms %6s ms %5s | %7s | %s ms / %s",
                    vcpus, Bench.median(q.samples), Bench.p90(q.samples), q.samples.size(),
                    e == null ? "n/a" : String.format(Locale.ROOT, "%.1f", Bench.median(e.samples)),
                    e == null ? "n/a" : String.format(Locale.ROOT, "%.1f", Bench.p90(e.samples)),
                    e == null ? "0" : Integer.toString(e.samples.size()), ratio,
                    q.allReported.isEmpty() ? "n/a" : String.format(Locale.ROOT, "%.1f", Bench.median(q.allReported)),
                    check));
        }
        StringBuilder serviceSide = new StringBuilder("quarkvm service-side (its quarkvm.vm.start timer: reconciler"
                + " took the start up → every boot vCPU reported), mean ms:");
        quarkvm.forEach((vcpus, r) -> serviceSide.append(String.format(Locale.ROOT, "  %d vCPU %.1f", vcpus,
                r.serviceMeanMs)));
        report.line(serviceSide.toString());
        if (!qemuSeabios.isEmpty()) {
            StringBuilder context = new StringBuilder("QEMU pc + SeaBIOS + 512-byte boot sector on an IDE disk"
                    + " (context only, not in the ratio), median ms:");
            qemuSeabios.forEach((vcpus, r) -> context.append(String.format(Locale.ROOT, "  %d vCPU %.0f (%d runs)",
                    vcpus, Bench.median(r.samples), r.samples.size())));
            report.line(context.toString());
        }
        report.line("");
        LatencyResult four = quarkvm.get(4);
        if (four != null) {
            double m = Bench.median(four.samples);
            report.line(String.format(Locale.ROOT, "goal: 4 vCPUs median <= 15 ms ............ %.1f ms  %s", m,
                    m <= 15 ? "MET" : "NOT MET"));
        }
        for (int vcpus : quarkvm.keySet()) {
            LatencyResult e = qemuFast.get(vcpus);
            if (e != null && !e.samples.isEmpty()) {
                double r = Bench.median(quarkvm.get(vcpus).samples) / Bench.median(e.samples);
                report.line(String.format(Locale.ROOT, "goal: ratio quarkvm/QEMU <= 0.2, %2d vCPUs .. %.3f    %s", vcpus, r,
                        r <= 0.2 ? "MET" : "NOT MET"));
            }
        }
        if (memory != null) {
            long dRss = memory.after.vmRssKb - memory.before.vmRssKb;
            long dAnon = memory.after.rssAnonKb - memory.before.rssAnonKb;
            double perVm = memory.perVmKb(dRss) / 1024;
            report.line("");
            report.line(String.format(Locale.ROOT, "memory, %d running 1-vCPU VMs of %d MiB: VmRSS %+d KiB, RssAnon %+d KiB,"
                            + " threads %+d; guest pages touched %d KiB (%s)", memory.vms, options.memoryMiB, dRss,
                    dAnon, memory.after.threads - memory.before.threads, memory.guestTouchedKb,
                    memory.guestMappingsFound == memory.vms ? "measured" : "upper bound"));
            report.line(String.format(Locale.ROOT, "goal: per VM beyond guest pages <= 2 MiB ... VmRSS %.2f MiB  %s"
                            + "   (RssAnon: %.2f MiB)", perVm, perVm <= 2 ? "MET" : "NOT MET",
                    memory.perVmKb(dAnon) / 1024));
            if (memory.heapBefore != null && memory.heapAfter != null) {
                long dOutside = memory.heapAfter.rssOutsideHeapKb - memory.heapBefore.rssOutsideHeapKb;
                long dUsed = memory.heapAfter.heapUsedKb - memory.heapBefore.heapUsedKb;
                report.line(String.format(Locale.ROOT, "  cross-check without G1's committed-heap noise: RSS outside the"
                                + " Java heap %+d KiB, live heap after GC %+d KiB → per VM %.2f MiB beyond guest pages",
                        dOutside, dUsed, memory.perVmKb(dOutside + dUsed) / 1024));
            }
        }
        if (qemuMemory != null) {
            report.line(String.format(Locale.ROOT, "QEMU beside it: one running 1-vCPU %d-MiB QEMU: VmRSS %.1f MiB, RssAnon"
                            + " %.1f MiB; beyond its guest RAM (%d KiB resident) %.1f MiB", options.memoryMiB,
                    qemuMemory.status.vmRssKb / 1024.0, qemuMemory.status.rssAnonKb / 1024.0,
                    qemuMemory.guestTouchedKb, (qemuMemory.status.vmRssKb - qemuMemory.guestTouchedKb) / 1024.0));
        }
        report.line("");
        report.line("last reportedAt: the boot's latest guest-identity reportedAt minus the moment the start request was"
                + " sent (the service stamps it when it persists the report)");
        if (!identityOk) {
            report.line("*** IDENTITY CHECK FAILED: start?wait=30 answered 200 RUNNING while GET .../guest-identity still"
                    + " showed boot vCPUs with reportedAt null (details above); the bench exits with status 2 ***");
        }
        report.line("=================================================================================================");
        report.line("raw start samples, ms (quarkvm / QEMU):");
        for (int vcpus : quarkvm.keySet()) {
            report.line("  " + vcpus + " vCPU quarkvm: " + Bench.joinSamples(quarkvm.get(vcpus).samples));
            if (qemuFast.get(vcpus) != null) {
                report.line("  " + vcpus + " vCPU QEMU:    " + Bench.joinSamples(qemuFast.get(vcpus).samples));
            }
        }
        return identityOk;
    }
}

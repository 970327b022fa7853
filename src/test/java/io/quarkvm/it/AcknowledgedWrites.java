package io.quarkvm.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Clients that create VMs and hot-plug their vCPUs from several threads, as fast as the service answers, and remember
 * every write the service acknowledged (the VM's version and the vCPU identities it answered with), so a test can
 * check afterwards that none of them was lost. Each VM is written by one client only; a client that gets no answer
 * or a refusal leaves that VM and creates another, so it never needs to guess what became of the failed write.
 */
final class AcknowledgedWrites {

    /** A slot per core: a VM takes up to 31 hot-plugs after its boot vCPU. */
    private static final int CORES = 32;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Map<String, Acknowledged> acknowledged = new ConcurrentHashMap<>();
    private final AtomicInteger writes = new AtomicInteger();
    private final List<Refusal> refusals = new CopyOnWriteArrayList<>();
    private final List<Instant> acknowledgedAt = new CopyOnWriteArrayList<>();
    private final AtomicInteger names = new AtomicInteger();
    private volatile ServiceProcess service;
    private volatile boolean driving;
    private final List<Thread> clients = new ArrayList<>();

    /** What the service acknowledged of one VM: its highest version and every vCPU identity it answered with. */
    private record Acknowledged(long version, Set<Identity> vcpus) {
    }

    private record Identity(int cpuIndex, int apicId, int vpIndex) {
    }

    /** A write answered with something else than a success, or not answered at all ({@code status} 0). */
    record Refusal(int status, String retryAfter, String contentType, String body, Instant at) {
    }

    /** Starts {@code count} client threads writing to {@code service} as its operator. */
    void start(ServiceProcess service, int count) {
        this.service = service;
        refusals.clear();
        driving = true;
        for (int i = 0; i < count; i++) {
            Thread client = new Thread(this::writeUntilStopped, "writer-" + i);
            clients.add(client);
            client.start();
        }
    }

    void stop() throws InterruptedException {
        driving = false;
        for (Thread client : clients) {
            client.join(Duration.ofSeconds(60).toMillis());
        }
        clients.clear();
    }

    /** Waits until {@code count} more writes than now have been acknowledged. */
    void awaitMoreAcknowledged(int count, Duration timeout) throws InterruptedException {
        int target = writes.get() + count;
        Await.until(target + " acknowledged writes", timeout, () -> writes.get() >= target);
    }

    /** The first write acknowledged after {@code instant}. */
    Instant firstAcknowledgedAfter(Instant instant) {
        return acknowledgedAt.stream().filter(at -> at.isAfter(instant)).min(Instant::compareTo).orElseThrow();
    }

    int acknowledgedWrites() {
        return writes.get();
    }

    /** The writes of the current run that were not acknowledged. */
    List<Refusal> refusals() {
        return List.copyOf(refusals);
    }

    /**
     * Reads every VM a write was acknowledged for: each must be there, at the version it was acknowledged at or a
     * later one (a write that failed for its client may still have been committed), with every vCPU identity it was
     * acknowledged with, plugged. Returns how many acknowledged writes that covers.
     */
    int assertNoneLost(ServiceProcess service) throws IOException, InterruptedException {
        List<String> lost = new ArrayList<>();
        for (Map.Entry<String, Acknowledged> entry : acknowledged.entrySet()) {
            HttpResponse<String> read = http.send(service.request("/api/v1/vms/" + entry.getKey()).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (read.statusCode() != 200) {
                lost.add("VM " + entry.getKey() + ": " + read.statusCode() + " " + read.body());
                continue;
            }
            JsonNode vm = JSON.readTree(read.body());
            long version = vm.get("version").asLong();
            assertThat(read.headers().firstValue("ETag")).as("ETag of %s", entry.getKey()).hasValue("\"" + version + "\"");
            if (version < entry.getValue().version()) {
                lost.add("VM " + entry.getKey() + ": version " + version + ", acknowledged " + entry.getValue().version());
            }
            Set<Identity> plugged = pluggedIdentities(vm);
            for (Identity identity : entry.getValue().vcpus()) {
                if (!plugged.contains(identity)) {
                    lost.add("VM " + entry.getKey() + ": acknowledged vCPU " + identity + " missing, plugged now " + plugged);
                }
            }
        }
        assertThat(lost).as("acknowledged writes lost").isEmpty();
        return writes.get();
    }

    private void writeUntilStopped() {
        while (driving) {
            String id = create();
            for (int core = 1; id != null && core < CORES && driving; core++) {
                if (!plug(id, core)) {
                    id = null;
                }
            }
        }
    }

    private String create() {
        String body = "{\"name\":\"ack-" + names.incrementAndGet() + "\",\"topology\":{\"sockets\":1,\"cores\":" + CORES
                + ",\"threads\":1},\"vcpus\":1}";
        JsonNode vm = send(service.request("/api/v1/vms"), body, 201);
        if (vm == null) {
            return null;
        }
        String id = vm.get("id").asText();
        acknowledge(id, vm);
        return id;
    }

    private boolean plug(String id, int core) {
        JsonNode vm = send(service.request("/api/v1/vms/" + id + "/vcpus"),
                "{\"socket\":0,\"core\":" + core + ",\"thread\":0}", 200);
        if (vm == null) {
            return false;
        }
        acknowledge(id, vm);
        return true;
    }

    /** POSTs the body; the VM the service answered with, or null (the refusal recorded) for anything else. */
    private JsonNode send(HttpRequest.Builder request, String body, int success) {
        try {
            HttpResponse<String> response = http.send(request.timeout(Duration.ofSeconds(30))
                            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == success) {
                return JSON.readTree(response.body());
            }
            refusals.add(new Refusal(response.statusCode(), response.headers().firstValue("Retry-After").orElse(null),
                    response.headers().firstValue("Content-Type").orElse(null), response.body(), Instant.now()));
        } catch (IOException e) {
            refusals.add(new Refusal(0, null, null, e.toString(), Instant.now()));
            pause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            driving = false;
        }
        return null;
    }

    private void acknowledge(String id, JsonNode vm) {
        Set<Identity> vcpus = pluggedIdentities(vm);
        acknowledged.merge(id, new Acknowledged(vm.get("version").asLong(), vcpus), (before, now) -> {
            Set<Identity> all = new HashSet<>(before.vcpus());
            all.addAll(now.vcpus());
            return new Acknowledged(Math.max(before.version(), now.version()), all);
        });
        writes.incrementAndGet();
        acknowledgedAt.add(Instant.now());
    }

    private static Set<Identity> pluggedIdentities(JsonNode vm) {
        Set<Identity> plugged = new HashSet<>();
        for (JsonNode vcpu : vm.get("vcpus")) {
            if (vcpu.get("plugged").asBoolean()) {
                plugged.add(new Identity(vcpu.get("cpuIndex").asInt(), vcpu.get("apicId").asInt(), vcpu.get("vpIndex").asInt()));
            }
        }
        return plugged;
    }

    private void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            driving = false;
        }
    }
}

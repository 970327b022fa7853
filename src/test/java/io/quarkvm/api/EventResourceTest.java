package io.quarkvm.api;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkvm.TestCredentials;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/** GET /api/v1/events read over plain HTTP while other requests change VMs. */
@QuarkusTest
class EventResourceTest {

    @TestHTTPResource("/api/v1/events")
    URL events;

    @Test
    void streamsCreationAndVcpuPlugsOfTheFilteredVmOnly() throws Exception {
        String name = VmResourceTest.uniqueName("events");
        List<String> lines = new CopyOnWriteArrayList<>();
        HttpURLConnection connection = (HttpURLConnection) new URL(events + "?vm=" + name).openConnection();
        connection.setRequestProperty("Accept", "text/event-stream");
        connection.setRequestProperty("Authorization", TestCredentials.OPERATOR_AUTHORIZATION);
        connection.setReadTimeout(20_000);
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(connection.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (line.startsWith("data:")) {
                        lines.add(line);
                        if (line.contains("vcpu-unplugged")) {
                            return;
                        }
                    }
                }
            } catch (Exception e) {
                lines.add("error: " + e);
            }
        });
        assertThat(connection.getResponseCode()).isEqualTo(200);
        assertThat(connection.getContentType()).startsWith("text/event-stream");

        VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("other"), "latest", 1, 1, 1, 1, null));
        String id = VmResourceTest.createVm(VmResourceTest.vmJson(name, "quarkvm-2.0", 1, 1, 4, 1, 1));
        given().contentType(ContentType.JSON).body(Map.of("socket", 0, "core", 3, "thread", 0))
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200);
        given().delete("/api/v1/vms/" + id + "/vcpus/3").then().statusCode(200);

        reader.get(20, TimeUnit.SECONDS);
        connection.disconnect();
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).contains("\"type\":\"created\"", "\"vmName\":\"" + name + "\"");
        assertThat(lines.get(1)).contains("\"type\":\"vcpu-plugged\"", "\"apicId\":3", "\"cpuIndex\":1", "\"vpIndex\":3", "\"version\":1");
        assertThat(lines.get(2)).contains("\"type\":\"vcpu-unplugged\"", "\"apicId\":3", "\"version\":2");
        assertThat(String.join("\n", lines)).doesNotContain("other-");
    }
}

package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import javax.sql.DataSource;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.quarkvm.api.VmResourceTest.createVm;
import static io.quarkvm.api.VmResourceTest.total;
import static io.quarkvm.api.VmResourceTest.uniqueName;
import static io.quarkvm.api.VmResourceTest.vmJson;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;

/** Every answer that is not a success is application/problem+json, and says nothing about the server's insides. */
@QuarkusTest
class ProblemResponsesTest {

    /** What a body must never show: Java classes and packages, Jackson's own words, SQL, the database's address. */
    private static final List<String> INTERNALS = List.of("java.", "javax.", "jakarta.", "org.", "com.", "io.quarkvm",
            "Exception", "`", "[Source", "REDACTED", "Feature", "SELECT", "INSERT", "db.internal.example", ":5432",
            "jdbc", "postgres", "PSQL");

    @Inject
    DataSource database;

    @Test
    void aDatabaseErrorIsAGeneric500WhoseIdTheLogKnows() throws SQLException {
        execute("""
                CREATE FUNCTION problem_test_refuse() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION 'INSERT INTO vm refused by db.internal.example:5432 (SELECT secret FROM vm)';
                END $$ LANGUAGE plpgsql""",
                "CREATE TRIGGER problem_test_refuse BEFORE INSERT ON vm FOR EACH ROW WHEN (NEW.name LIKE 'leak-%') "
                        + "EXECUTE FUNCTION problem_test_refuse()");
        try {
            long before = total();
            Response response = given().contentType(ContentType.JSON).body(vmJson(uniqueName("leak"), "latest", 1, 1, 1, 1, null))
                    .post("/api/v1/vms");
            assertProblem(response, 500);
            String instance = response.path("instance");
            assertThat(instance).matches("urn:uuid:[0-9a-f-]{36}");
            assertThat(response.<String>path("detail")).contains(instance);
            assertThat(total()).isEqualTo(before);
        } finally {
            execute("DROP TRIGGER problem_test_refuse ON vm", "DROP FUNCTION problem_test_refuse()");
        }
    }

    @Test
    void unreadableBodiesSayWhereAndWhatKindOfValueNotWhichClass() {
        String name = uniqueName("unreadable");
        Map<String, String> detailByBody = Map.of(
                "{\"name\":\"" + name + "\",", "the body is not well-formed JSON (line 1, column ",
                "[1,2]", "the body must be a JSON object",
                "{\"name\":\"" + name + "\",\"topology\":{\"sockets\":\"two\",\"cores\":1,\"threads\":1}}",
                "topology.sockets must be an integer",
                "{\"name\":\"" + name + "\",\"topology\":[1]}", "topology must be a JSON object",
                "{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"hyperv\":{\"vpindex\":\"yes\"}}",
                "hyperv.vpindex must be true or false",
                "{\"name\":7,\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1}}", "name must be a string",
                "{\"name\":\"" + name + "\",\"topology\":{\"sockets\":1,\"cores\":1,\"threads\":1},\"guest\":{\"kind\":true}}",
                "guest.kind must be a string",
                "{\"name\":\"" + name + "\"} trailing", "the body is not well-formed JSON");
        detailByBody.forEach((body, detail) -> {
            Response response = given().contentType(ContentType.JSON).body(body).post("/api/v1/vms");
            assertProblem(response, 400);
            assertThat(response.<String>path("detail")).as(body).startsWith(detail);
        });
        Response wrongType = given().contentType(ContentType.TEXT).body("name=x").post("/api/v1/vms");
        assertProblem(wrongType, 415);
        Response queryType = given().get("/api/v1/vms?size=ten");
        assertProblem(queryType, 400).body("field", equalTo("size"));
    }

    @Test
    void aBodyOverTheLimitIs413WhetherItsLengthIsDeclaredOrNot() {
        long before = total();
        byte[] oversized = createBody(uniqueName("big"), 100_000);
        assertProblem(given().contentType(ContentType.JSON).body(oversized).post("/api/v1/vms"), 413)
                .body("detail", equalTo("the request body has " + oversized.length + " bytes; this server reads at most 65536"));
        assertProblem(given().contentType(ContentType.JSON).body(new ByteArrayInputStream(oversized)).post("/api/v1/vms"), 413);
        assertThat(total()).isEqualTo(before);
        byte[] underTheLimit = createBody(uniqueName("padded"), 60_000);
        given().contentType(ContentType.JSON).body(underTheLimit).post("/api/v1/vms").then().statusCode(201);
        given().contentType(ContentType.JSON).body(new ByteArrayInputStream(createBody(uniqueName("chunked"), 60_000)))
                .post("/api/v1/vms").then().statusCode(201);
    }

    @Test
    void aUriOverTheLimitIs414() {
        assertProblem(given().get("/api/v1/vms/" + "a".repeat(10_000)), 414);
        assertProblem(given().get("/api/v1/vms?page=" + "1".repeat(HttpLevelProblems.MAX_URI_LENGTH)), 414);
        assertProblem(given().get("/api/v1/vms/" + "a".repeat(8_000)), 404);
    }

    @Test
    void unknownPathsAre404Problems() {
        assertProblem(given().get("/nothing/here"), 404).body("detail", equalTo("there is no resource at /nothing/here"));
        assertProblem(given().get("/api/v2/vms"), 404);
        assertProblem(given().get("/api/v1/vms/00000000-0000-0000-0000-000000000000/frobnicate"), 404);
        assertProblem(given().post("/api/v1/vms/00000000-0000-0000-0000-000000000000/reboot"), 404);
        assertProblem(given().get("/api/v1/vms/a-b-c-d-e"), 404);
    }

    @Test
    void wrongMethodsAre405ProblemsThatSayWhatIsAllowed() {
        assertProblem(given().put("/api/v1/vms"), 405).header("Allow", "GET, HEAD, POST");
        assertProblem(given().delete("/api/v1/machine-types"), 405).header("Allow", "GET, HEAD");
        assertProblem(given().get("/api/v1/vms/00000000-0000-0000-0000-000000000000/start"), 405).header("Allow", "POST");
        assertProblem(given().post("/api/v1/vms/00000000-0000-0000-0000-000000000000"), 405)
                .header("Allow", "DELETE, GET, HEAD");
        assertProblem(given().put("/api/v1/vms/00000000-0000-0000-0000-000000000000/migrations"), 405)
                .header("Allow", "GET, HEAD, POST");
        assertProblem(given().post("/api/v1/migrations/00000000-0000-0000-0000-000000000000"), 405)
                .header("Allow", "DELETE, GET, HEAD");
    }

    @Test
    void aNameWrittenLikeAnIdIsRefused() {
        long before = total();
        for (String name : List.of("3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3F2504E0-4F89-11D3-9A0C-0305E82C3301")) {
            assertProblem(given().contentType(ContentType.JSON).body(vmJson(name, "latest", 1, 1, 1, 1, null))
                    .post("/api/v1/vms"), 422).body("field", equalTo("name"));
        }
        assertThat(total()).isEqualTo(before);
    }

    @Test
    void aWeakEtagNeverMatches() {
        String id = createVm(vmJson(uniqueName("weak"), "latest", 1, 1, 2, 1, 1));
        Map<String, Integer> slot = Map.of("socket", 0, "core", 1, "thread", 0);
        assertProblem(given().header("If-Match", "W/\"0\"").contentType(ContentType.JSON).body(slot)
                .post("/api/v1/vms/" + id + "/vcpus"), 412).body("field", equalTo("If-Match"));
        assertProblem(given().header("If-Match", "W/\"0\"").post("/api/v1/vms/" + id + "/stop"), 412);
        assertProblem(given().header("If-Match", "W/\"0\"").delete("/api/v1/vms/" + id), 412);
        given().get("/api/v1/vms/" + id).then().statusCode(200).header("ETag", "\"0\"");
        given().header("If-Match", "\"0\"").contentType(ContentType.JSON).body(slot)
                .post("/api/v1/vms/" + id + "/vcpus").then().statusCode(200).header("ETag", "\"1\"");
        assertProblem(given().header("If-Match", "W/\"0\"").delete("/api/v1/vms/00000000-0000-0000-0000-000000000000"), 404);
    }

    @Test
    void theOpenApiDocumentNamesEveryOperationAndTheStatusesItReallyAnswers() {
        Map<String, Map<String, Map<String, Object>>> paths = given().get("/q/openapi?format=json").then().statusCode(200)
                .extract().path("paths");
        Set<String> operationIds = new HashSet<>();
        List<String> templated = new ArrayList<>();
        paths.forEach((path, operations) -> {
            if (path.matches(".*\\{[a-z]+:.*")) {
                templated.add(path);
            }
            operations.forEach((method, operation) -> {
                assertThat((String) operation.get("operationId")).as(method + " " + path).isNotBlank();
                assertThat((String) operation.get("description")).as(method + " " + path).isNotBlank();
                assertThat(operationIds.add((String) operation.get("operationId"))).as("unique").isTrue();
            });
        });
        assertThat(templated).isEmpty();
        assertThat(operationIds).contains("createVm", "listVms", "getVm", "deleteVm", "plugVcpu", "unplugVcpu",
                "startVm", "stopVm", "pauseVm", "resumeVm", "getGuestIdentity", "listMachineTypes", "listNodes",
                "streamEvents", "migrateVm", "listVmMigrations", "getMigration", "cancelMigration");
        assertThat(responses(paths, "/api/v1/vms/{id}/migrations", "post")).containsKeys("202", "400", "404", "409", "422")
                .doesNotContainKey("200");
        assertThat(responses(paths, "/api/v1/migrations/{id}", "delete")).containsKeys("200", "404", "409");
        assertThat(responses(paths, "/api/v1/migrations/{id}", "get")).containsKeys("200", "400", "404", "422");
        assertThat(responses(paths, "/api/v1/vms", "post")).containsKeys("201", "400", "409", "413", "422");
        assertThat(responses(paths, "/api/v1/vms/{id}", "delete")).containsKeys("204", "404", "409", "412")
                .doesNotContainKey("200");
        for (String state : List.of("start", "stop", "pause", "resume")) {
            assertThat(responses(paths, "/api/v1/vms/{id}/" + state, "post")).containsKeys("200", "202", "404", "409", "412");
        }
        given().get("/q/openapi?format=json").then()
                .body("components.responses.NotFound.content.'application/problem+json'.schema.'$ref'",
                        equalTo("#/components/schemas/Problem"))
                .body("components.responses.ServiceUnavailable.headers.'Retry-After'.schema.type", equalTo("integer"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> responses(Map<String, Map<String, Map<String, Object>>> paths, String path,
                                                 String method) {
        return (Map<String, Object>) paths.get(path).get(method).get("responses");
    }

    /** A valid VM with spaces after it, so that the body is {@code size} bytes long. */
    private static byte[] createBody(String name, int size) {
        String json = vmJson(name, "latest", 1, 1, 1, 1, null);
        return (json + " ".repeat(size - json.length())).getBytes(StandardCharsets.UTF_8);
    }

    private static ValidatableResponse assertProblem(Response response, int status) {
        String body = response.asString();
        assertThat(response.statusCode()).as(body).isEqualTo(status);
        assertThat(response.contentType()).startsWith(Problem.MEDIA_TYPE);
        for (String internal : INTERNALS) {
            assertThat(body).as("a %d body", status).doesNotContainIgnoringCase(internal);
        }
        return response.then().body("status", equalTo(status)).body("type", startsWith("https://quarkvm.io/problems/"))
                .body("title", notNullValue()).body("detail", notNullValue());
    }

    private void execute(String... statements) throws SQLException {
        try (Connection connection = database.getConnection(); Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                statement.execute(sql);
            }
        }
    }
}

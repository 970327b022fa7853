import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;

/** HTTP: one keep-alive HTTP/1.1 client on localhost; a service that died is reported as such. */
final class Api {
    record Reply(String method, String uri, String requestBody, int status, String body, Optional<String> location) {
        Object json() {
            return Json.parse(body);
        }

        @Override
        public String toString() {
            return "  request:  " + method + " " + uri + (requestBody == null ? "" : " " + requestBody)
                    + "\n  response: " + status + " " + body;
        }
    }

    final Service service;
    final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    Api(Service service) {
        this.service = service;
    }

    Reply call(String method, String path, String body) {
        URI uri = URI.create(service.base + path);
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(90))
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + service.operatorToken)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body)).build();
        try {
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            return new Reply(method, uri.toString(), body, response.statusCode(), response.body(),
                    response.headers().firstValue("Location"));
        } catch (IOException e) {
            throw new BenchFailure(method + " " + uri + " failed: " + e + "\n" + service.describeState());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchFailure("interrupted");
        }
    }

    Reply expect(int status, String method, String path, String body) {
        Reply reply = call(method, path, body);
        if (reply.status() != status) {
            throw new BenchFailure("expected " + status + ":\n" + reply);
        }
        return reply;
    }
}

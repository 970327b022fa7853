package io.quarkvm.api;

/** The names by which operations refer to the OpenAPI document's shared parts (package-info.java defines them). */
public final class ApiDocumentation {

    static final String VMS = "VMs";
    static final String MACHINE_TYPES = "Machine types";
    static final String NODES = "Nodes";
    static final String EVENTS = "Events";
    static final String MIGRATIONS = "Migrations";

    static final String ETAG = "ETag";
    static final String WAIT = "wait";

    static final String BAD_REQUEST = "BadRequest";
    static final String NOT_FOUND = "NotFound";
    static final String CONFLICT = "Conflict";
    static final String PRECONDITION_FAILED = "PreconditionFailed";
    static final String PAYLOAD_TOO_LARGE = "PayloadTooLarge";
    static final String UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType";
    static final String UNPROCESSABLE_CONTENT = "UnprocessableContent";
    static final String SERVICE_UNAVAILABLE = "ServiceUnavailable";

    private ApiDocumentation() {
    }
}

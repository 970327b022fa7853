/**
 * HTTP only: resources, their problem answers, and the OpenAPI document (/q/openapi). The document's parts that no
 * single resource owns live here: SmallRye OpenAPI reads {@code @OpenAPIDefinition} from a package or a JAX-RS
 * Application, and this API has no Application class. Names shared with the resources are in {@link ApiDocumentation}.
 */
@OpenAPIDefinition(
        info = @Info(title = "quarkvm", version = "v1",
                description = "Creates, starts, stops and hot-plugs KVM virtual machines, and keeps every vCPU's "
                        + "identity (APIC ID, cpu_index, Hyper-V VP index) in PostgreSQL so that it never changes. "
                        + "Errors are application/problem+json (RFC 9457).",
                contact = @Contact(name = "quarkvm")),
        servers = @Server(url = "/", description = "The server that serves this document"),
        tags = {
                @Tag(name = ApiDocumentation.VMS, description = "Virtual machines, their vCPUs and their state"),
                @Tag(name = ApiDocumentation.MACHINE_TYPES, description = "Machine types and their VP index policy"),
                @Tag(name = ApiDocumentation.NODES, description = "The nodes that run VMs"),
                @Tag(name = ApiDocumentation.MIGRATIONS, description = "Live migration of running VMs between nodes"),
                @Tag(name = ApiDocumentation.EVENTS, description = "Changes to VMs as they happen")},
        components = @Components(
                parameters = @Parameter(name = ApiDocumentation.WAIT, in = ParameterIn.QUERY,
                        description = "How long to wait for the VM to get there, in seconds (\"30\" or \"30s\", at most "
                                + "300); without it the answer comes at once",
                        schema = @Schema(type = SchemaType.STRING, pattern = "^[0-9]+(\\.[0-9]+)?s?$", example = "30")),
                headers = @Header(name = ApiDocumentation.ETAG, description = "The VM's version as a strong ETag, like "
                        + "\"3\"; send it back in If-Match to change the VM only if nobody changed it since",
                        schema = @Schema(type = SchemaType.STRING)),
                responses = {
                        @APIResponse(name = ApiDocumentation.BAD_REQUEST, responseCode = "400",
                                description = "The request cannot be read: malformed JSON, an unknown field, a value "
                                        + "of the wrong type, a parameter or If-Match header that is not a number",
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
                        @APIResponse(name = ApiDocumentation.NOT_FOUND, responseCode = "404",
                                description = "No such VM, vCPU in it, or migration",
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
                        @APIResponse(name = ApiDocumentation.CONFLICT, responseCode = "409",
                                description = "The VM's state forbids it: a duplicate name, an occupied slot, the boot "
                                        + "vCPU, a transition the state machine refuses, no node that can run the VM, "
                                        + "a migration the VM's or the target's state forbids or that can no longer be "
                                        + "cancelled",
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
                        @APIResponse(name = ApiDocumentation.PRECONDITION_FAILED, responseCode = "412",
                                description = "If-Match names a version that is not the VM's current one, or is a weak "
                                        + "ETag (If-Match compares strongly)",
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
                        @APIResponse(name = ApiDocumentation.PAYLOAD_TOO_LARGE, responseCode = "413",
                                description = "The body is larger than the server accepts (64 KiB)",
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
                        @APIResponse(name = ApiDocumentation.UNSUPPORTED_MEDIA_TYPE, responseCode = "415",
                                description = "The body is not application/json",
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
                        @APIResponse(name = ApiDocumentation.UNPROCESSABLE_CONTENT, responseCode = "422",
                                description = "A value breaks a rule of the model (a migration target that is not "
                                        + "registered or can never run the VM, say); field names it",
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
                        @APIResponse(name = ApiDocumentation.SERVICE_UNAVAILABLE, responseCode = "503",
                                description = "The database cannot be reached for now; nothing was acknowledged",
                                headers = @Header(name = "Retry-After", description = "Seconds to wait before asking again",
                                        schema = @Schema(type = SchemaType.INTEGER)),
                                content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class)))}))
package io.quarkvm.api;

import org.eclipse.microprofile.openapi.annotations.Components;
import org.eclipse.microprofile.openapi.annotations.OpenAPIDefinition;
import org.eclipse.microprofile.openapi.annotations.enums.ParameterIn;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.info.Contact;
import org.eclipse.microprofile.openapi.annotations.info.Info;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.servers.Server;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;


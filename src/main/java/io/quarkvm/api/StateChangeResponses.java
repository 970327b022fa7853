package io.quarkvm.api;

import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** The OpenAPI description that start, stop, pause and resume share: they differ only in the state they ask for. */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@APIResponse(responseCode = "200", description = "The VM is in the state asked for",
        headers = @Header(name = "ETag", ref = ApiDocumentation.ETAG),
        content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = VmDtos.VmView.class)))
@APIResponse(responseCode = "202", description = "Recorded; the VM's node is still getting it there (or it crashed)",
        headers = @Header(name = "ETag", ref = ApiDocumentation.ETAG),
        content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = VmDtos.VmView.class)))
@APIResponse(responseCode = "400", ref = ApiDocumentation.BAD_REQUEST)
@APIResponse(responseCode = "404", ref = ApiDocumentation.NOT_FOUND)
@APIResponse(responseCode = "409", ref = ApiDocumentation.CONFLICT)
@APIResponse(responseCode = "412", ref = ApiDocumentation.PRECONDITION_FAILED)
@APIResponse(responseCode = "422", ref = ApiDocumentation.UNPROCESSABLE_CONTENT)
@APIResponse(responseCode = "503", ref = ApiDocumentation.SERVICE_UNAVAILABLE)
@interface StateChangeResponses {
}

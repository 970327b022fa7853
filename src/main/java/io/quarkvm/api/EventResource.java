package io.quarkvm.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkvm.persistence.EventLog.LoggedEvent;
import io.quarkvm.service.EventFeed;
import io.smallrye.mutiny.Multi;
import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Predicate;

/**
 * Server-sent events: every VM change any node commits, in the order of the log, each with its id. A client that
 * reconnects with {@code Last-Event-ID} gets every event after that id; when some of them were pruned meanwhile, an
 * {@code event: gap} says which ids were lost, first.
 */
@Path("/api/v1/events")
@Tag(name = ApiDocumentation.EVENTS)
public class EventResource {

    static final String LAST_EVENT_ID = "Last-Event-ID";

    @Inject
    EventFeed feed;

    @Inject
    ObjectMapper json;

    /** What a gap event carries: the ids of the events lost, first to last. */
    record GapEvent(String type, long firstLostId, long lastLostId) {
    }

    /**
     * {@code ?vm=} keeps the events of one VM, named by id or by name. Without {@code Last-Event-ID} (or
     * {@code ?after=}, which the header overrides) the stream starts with the next event.
     */
    @GET
    @Operation(operationId = "streamEvents", summary = "Stream VM events",
            description = "Server-sent events, one JSON VmEvent each: phase and desired-state changes, vCPU plug and "
                    + "unplug, VMs created and deleted.")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @APIResponse(responseCode = "200", description = "Every event as it is committed, each with its id; a gap event "
            + "first when events after the id resumed from were pruned",
            content = @Content(mediaType = MediaType.SERVER_SENT_EVENTS, schema = @Schema(implementation = String.class)))
    @APIResponse(responseCode = "400", description = "Last-Event-ID or after is not the id of an event",
            content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class)))
    public Multi<OutboundSseEvent> events(@QueryParam("vm") String vm, @QueryParam("after") String after,
                                          @HeaderParam(LAST_EVENT_ID) String lastEventId,
                                          @Context Sse sse, @Context HttpServerRequest request) {
        OptionalLong resumeAfter = lastEventId != null ? OptionalLong.of(eventId(LAST_EVENT_ID, lastEventId))
                : after != null ? OptionalLong.of(eventId("after", after)) : OptionalLong.empty();
        Predicate<LoggedEvent> wanted = vm == null || vm.isBlank() ? event -> true
                : event -> vm.equals(event.vmId().toString()) || vm.equals(event.vmName());
        return Multi.createFrom().deferred(() -> {
            EventFeed.Subscription subscription = feed.subscribe(resumeAfter, () -> request.connection().close());
            return Multi.createBy().repeating().completionStage(subscription::next).indefinitely()
                    .onItem().transformToIterable(batch -> toSse(batch, wanted, sse))
                    .onItem().invoke(subscription::sending)
                    .onRequest().invoke(subscription::taken)
                    .onTermination().invoke(subscription::close);
        });
    }

    private List<OutboundSseEvent> toSse(EventFeed.Batch batch, Predicate<LoggedEvent> wanted, Sse sse) {
        List<OutboundSseEvent> events = new ArrayList<>(batch.events().size() + 1);
        batch.gap().ifPresent(gap -> events.add(sse.newEventBuilder().id(Long.toString(gap.lastLost())).name("gap")
                .data(String.class, gapJson(gap)).build()));
        for (LoggedEvent event : batch.events()) {
            if (wanted.test(event)) {
                events.add(sse.newEventBuilder().id(Long.toString(event.id())).data(String.class, event.payload()).build());
            }
        }
        return events;
    }

    private String gapJson(EventFeed.Gap gap) {
        try {
            return json.writeValueAsString(new GapEvent("gap", gap.firstLost(), gap.lastLost()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long eventId(String field, String value) {
        try {
            long id = Long.parseLong(value.strip());
            if (id >= 0) {
                return id;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new BadRequestException(field, field + " must be the id of an event: a whole number, 0 or more");
    }
}

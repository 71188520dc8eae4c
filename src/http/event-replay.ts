import {
  type EventRow,
  FORCE_REPLAYABLE,
  getEventRow,
  markQueuedForReplay,
  REPLAYABLE,
  revertReplay,
} from "../db/events";
import type { EventMessage } from "../events/envelope";
import { errorKind, log } from "../log";
import { ApiError } from "./errors";

/** The event row, or the contract's 404. */
export async function findEvent(db: D1Database, eventId: string): Promise<EventRow> {
  const row = await getEventRow(db, eventId);
  if (!row) throw new ApiError(404, "not_found", "No event has this id.");
  return row;
}

/**
 * Re-runs one stored event: moves it to `queued` (only from a replayable status, or a finished one
 * with `force`) and sends its stored envelope to the events queue, undoing the status change when the
 * send fails. The one replay path of the admin API and the console. Throws {@link ApiError} 404, 409
 * (`payload_purged`, `not_replayable`) or 503 (`enqueue_failed`).
 */
export async function replayEvent(
  env: Env,
  eventId: string,
  options: { force: boolean; requestId: string | null },
): Promise<{ event_id: string; status: "queued"; previous_status: EventRow["status"] }> {
  const row = await findEvent(env.DB, eventId);
  if (row.payload === null) {
    throw new ApiError(
      409,
      "payload_purged",
      "This event's payload was removed by the retention policy; it cannot be replayed.",
    );
  }
  const previous = await markQueuedForReplay(env.DB, eventId, options.force ? FORCE_REPLAYABLE : REPLAYABLE);
  if (!previous) {
    throw new ApiError(
      409,
      "not_replayable",
      `An event with status ${row.status} is replayed only with force=true, and never while queued or processing.`,
    );
  }
  const message: EventMessage = {
    envelope: JSON.parse(row.payload) as EventMessage["envelope"],
    received_at: row.received_at,
    request_id: options.requestId ?? "",
  };
  try {
    await env.EVENTS.send(message, { contentType: "json" });
  } catch (error) {
    await revertReplay(env.DB, eventId, previous);
    log.error("replay enqueue failed", { event_id: eventId, error: errorKind(error) });
    throw new ApiError(503, "enqueue_failed", "The replay could not be queued; retry later.", {
      headers: { "Retry-After": "30" },
    });
  }
  log.info("event replay queued", { event_id: eventId, previous_status: previous, force: options.force });
  return { event_id: eventId, status: "queued", previous_status: previous };
}

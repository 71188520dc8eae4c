import type { RequeueRow } from "../db/event-requeue";
import type { EventMessage } from "../events/envelope";
import { log } from "../log";
import { enqueueAll } from "../queue/enqueue";

/**
 * Sends stored events back to `novamed-events` as the edge would have, in chunks Queues accept (by
 * count and by size, {@link enqueueAll}). The one enqueue of every replay path: the single replay,
 * the bulk re-drive, the console's selection and the stuck-event sweep. Returns the ids that were
 * sent and the ids whose chunk failed (for the caller to revert or leave to the sweep). A second copy
 * of an event already on its way is harmless: its record applies it once.
 */
export async function requeueEvents(
  env: Env,
  rows: readonly RequeueRow[],
  requestId: string | null,
): Promise<{ sent: string[]; failed: string[] }> {
  const result = await enqueueAll(env.EVENTS, rows, (row) => {
    const body: EventMessage = {
      envelope: JSON.parse(row.payload) as EventMessage["envelope"],
      received_at: row.received_at,
      request_id: requestId ?? "",
    };
    return { body };
  });
  for (const error of result.errors) log.error("requeue failed", { events: error.messages, error: error.error });
  return { sent: result.sent.map((row) => row.event_id), failed: result.failed.map((row) => row.event_id) };
}

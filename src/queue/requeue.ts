import type { RequeueRow } from "../db/events";
import type { EventMessage } from "../events/envelope";
import { errorKind, log } from "../log";

/** Queues' limit on one `sendBatch` call. */
const SEND_BATCH_MAX = 100;

/**
 * Sends stored events back to `novamed-events` as the edge would have, chunk by chunk. The one
 * enqueue of every replay path: the single replay, the bulk re-drive and the stuck-event sweep.
 * Returns the ids that were sent and the ids whose chunk failed (for the caller to revert or leave to
 * the sweep). A second copy of an event already on its way is harmless: the claim applies it once.
 */
export async function requeueEvents(
  env: Env,
  rows: readonly RequeueRow[],
  requestId: string | null,
): Promise<{ sent: string[]; failed: string[] }> {
  const sent: string[] = [];
  const failed: string[] = [];
  for (let start = 0; start < rows.length; start += SEND_BATCH_MAX) {
    const chunk = rows.slice(start, start + SEND_BATCH_MAX);
    const messages = chunk.map((row) => {
      const body: EventMessage = {
        envelope: JSON.parse(row.payload) as EventMessage["envelope"],
        received_at: row.received_at,
        request_id: requestId ?? "",
      };
      return { body, contentType: "json" as const };
    });
    try {
      await env.EVENTS.sendBatch(messages);
      sent.push(...chunk.map((row) => row.event_id));
    } catch (error) {
      failed.push(...chunk.map((row) => row.event_id));
      log.error("requeue failed", { events: chunk.length, error: errorKind(error) });
    }
  }
  return { sent, failed };
}

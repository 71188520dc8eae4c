import { markForReplay, markSelectedForReplay } from "../db/deliveries";
import { enqueueDeliveryJobs } from "./fan-out";

/** Which of a destination's deliveries a replay takes: by status and change time range, or by ids. */
export type DeliveryReplay =
  | { status: "delivered" | "failed"; from?: string; to?: string; limit: number }
  | { deliveryIds: readonly string[] };

/**
 * Replays a destination's deliveries (the admin API's `POST /admin/deliveries/replay` and the
 * console's replay forms): the rows back to `pending`, then their jobs enqueued at once. A job that
 * could not be enqueued is not lost: its row is pending and the sweep sends it. They keep their
 * `webhook-id`, so the endpoint's dedupe still works.
 */
export async function replayDeliveries(
  env: Env,
  destinationId: string,
  replay: DeliveryReplay,
  now: Date,
): Promise<{ replayed: number; enqueued: number }> {
  const jobs =
    "deliveryIds" in replay
      ? await markSelectedForReplay(env.DB, destinationId, replay.deliveryIds, now.toISOString())
      : await markForReplay(env.DB, { destinationId, ...replay }, now.toISOString());
  return { replayed: jobs.length, enqueued: await enqueueDeliveryJobs(env, jobs) };
}

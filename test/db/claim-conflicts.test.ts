import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { batchedMeta } from "../helpers/d1";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const shipped = () => makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: uniqueId("pat") } });

describe("the claim's conflict count", () => {
  it("reads rows in proportion to the batch, not to its square", async () => {
    const events = Array.from({ length: 80 }, shipped);
    const { db, metas } = batchedMeta(env.DB, "UPDATE events SET conflicts");
    await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
      { ...env, DB: db },
    );
    const rowsRead = metas.map((meta) => meta.rows_read);
    expect(rowsRead).toHaveLength(1);
    // One pass over the 80 deliveries and one primary-key probe each; the correlated count read the
    // whole array for every row: 80 × 80 = 6,400 and more.
    expect(rowsRead[0]).toBeLessThan(80 * 5);
  });

  it("counts each delivery whose content differs from the stored row, within a batch and across batches", async () => {
    const first = shipped();
    const other = { ...first, data: { ...first.data, tracking_number: "OTHER" } };
    const third = { ...first, data: { ...first.data, tracking_number: "THIRD" } };
    const unrelated = shipped();
    await runBatch(EVENTS_QUEUE, [eventMessage(first), eventMessage(other), eventMessage(unrelated)]);
    expect(await eventRow(first.event_id)).toMatchObject({ applications: 1, conflicts: 1 });
    await runBatch(EVENTS_QUEUE, [eventMessage(other), eventMessage(third), eventMessage(first)]);
    expect(await eventRow(first.event_id)).toMatchObject({ applications: 1, conflicts: 3 });
    expect(await eventRow(unrelated.event_id)).toMatchObject({ conflicts: 0 });
  });
});

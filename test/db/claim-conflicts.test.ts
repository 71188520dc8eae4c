import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { wrapDatabase } from "../helpers/d1";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

/** `env` whose D1 reports the rows the claim's conflict count read, by the runtime's meta. */
function measuringConflictCount(): { workerEnv: Env; rowsRead: number[] } {
  const rowsRead: number[] = [];
  const marked = new WeakSet<D1PreparedStatement>();
  const db = wrapDatabase(env.DB, {
    prepare: (sql, prepare) => {
      const statement = prepare(sql);
      if (!sql.startsWith("UPDATE events SET conflicts")) return statement;
      const bind = statement.bind.bind(statement);
      statement.bind = (...values: unknown[]) => {
        const bound = bind(...values);
        marked.add(bound);
        return bound;
      };
      return statement;
    },
    batch: async (statements, batch) => {
      const results = await batch(statements);
      statements.forEach((statement, index) => {
        if (marked.has(statement)) rowsRead.push(results[index]?.meta.rows_read ?? -1);
      });
      return results;
    },
  });
  return { workerEnv: { ...env, DB: db }, rowsRead };
}

const shipped = () => makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: uniqueId("pat") } });

describe("the claim's conflict count", () => {
  it("reads rows in proportion to the batch, not to its square", async () => {
    const events = Array.from({ length: 80 }, shipped);
    const { workerEnv, rowsRead } = measuringConflictCount();
    await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
      workerEnv,
    );
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

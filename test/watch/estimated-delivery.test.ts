import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { normaliseCalendarDate } from "../../src/events/timestamp";
import { uniqueId } from "../helpers/events";
import { eventRow } from "../helpers/queue";
import { alertsOn, applyAt, DAY, runWatch } from "../helpers/watch";

// The lifecycle watch reads estimated deliveries as dates: the consumer normalises them to YYYY-MM-DD,
// and drops anything else with a warning, so the no-estimate rule (7 days after shipping) applies.
const SHIPPED = Date.parse("2026-03-05T15:00:00.000Z");
/** Two days after 2026-03-10's start (UTC): when an order estimated for March 10 is overdue. */
const ETA_DUE = Date.parse("2026-03-12T00:00:00.000Z");
const SECOND = 1000;

const estimateOf = async (orderId: string) =>
  (
    await env.DB.prepare(`SELECT estimated_delivery FROM orders WHERE order_id = ?1`)
      .bind(orderId)
      .first<{ estimated_delivery: string | null }>()
  )?.estimated_delivery;

async function ship(estimate: string) {
  const orderId = uniqueId("ord");
  const event = await applyAt(SHIPPED, "order:shipped", { order_id: orderId, estimated_delivery: estimate });
  return { orderId, warnings: JSON.parse((await eventRow(event.event_id)).warnings ?? "[]") as unknown[] };
}

async function expectAlertOpensAt(orderId: string, threshold: number) {
  await runWatch(SHIPPED + SECOND);
  await runWatch(threshold - SECOND);
  expect(await alertsOn(orderId, "order:shipped")).toEqual([]);
  await runWatch(threshold);
  expect(await alertsOn(orderId, "order:shipped")).toMatchObject([{ state: "open" }]);
}

describe("estimated_delivery is a date", () => {
  it.each([
    ["ISO date", "2026-03-10"],
    ["ISO date-time (its date as written)", "2026-03-10T18:00:00-08:00"],
    ["ISO date-time in UTC", "2026-03-10T09:30:00.000Z"],
    ["US MM/DD/YYYY", "03/10/2026"],
    ["US M/D/YYYY, padded", " 3/10/2026 "],
  ])("%s is stored as 2026-03-10 and alerts two days after that day", async (_form, estimate) => {
    const { orderId, warnings } = await ship(estimate);
    expect(await estimateOf(orderId)).toBe("2026-03-10");
    expect(warnings).toEqual([]);
    await expectAlertOpensAt(orderId, ETA_DUE);
  });

  it.each([
    ["a date in words", "March 10, 2026"],
    ["TBD", "TBD"],
    ["a day that does not exist", "02/30/2026"],
    ["a day-first date", "13/03/2026"],
  ])("%s is dropped with a warning (no value), and the 7-day rule applies", async (_form, estimate) => {
    const { orderId, warnings } = await ship(estimate);
    expect(await estimateOf(orderId)).toBeNull();
    expect(warnings).toEqual([
      { path: "data.estimated_delivery", message: "must be a date: YYYY-MM-DD, an ISO 8601 date-time or MM/DD/YYYY" },
    ]);
    expect(JSON.stringify(warnings)).not.toContain(estimate);
    await expectAlertOpensAt(orderId, SHIPPED + 7 * DAY);
  });

  it("normaliseCalendarDate refuses impossible times and keeps only real dates", () => {
    expect(normaliseCalendarDate("2026-03-10T25:00:00Z")).toBeNull();
    expect(normaliseCalendarDate("2026-02-29")).toBeNull();
    expect(normaliseCalendarDate("2028-02-29")).toBe("2028-02-29");
    expect(normaliseCalendarDate("2026-03-10T18:00")).toBe("2026-03-10");
    expect(normaliseCalendarDate("12/31/2026")).toBe("2026-12-31");
  });
});

describe("migration 0031 normalises stored estimates", () => {
  it("keeps ISO dates, takes the date of ISO date-times, converts MM/DD/YYYY and nulls the rest", async () => {
    const cases: [string, string | null][] = [
      ["2026-03-10", "2026-03-10"],
      ["2026-03-10T18:00:00-08:00", "2026-03-10"],
      ["03/10/2026", "2026-03-10"],
      ["3/9/2026", "2026-03-09"],
      [" 2026-03-10 ", "2026-03-10"],
      ["02/30/2026", null],
      ["March 10, 2026", null],
      ["TBD", null],
    ];
    const at = new Date(SHIPPED).toISOString();
    const ids = cases.map(() => uniqueId("ord"));
    await env.DB.batch(
      cases.map(([estimate], index) =>
        env.DB.prepare(
          `INSERT INTO orders (order_id, clinic_id, patient_id, status, status_rank, status_at, status_event_id,
             estimated_delivery, first_event_at, last_event_at, updated_at)
           VALUES (?1, ?2, 'pat_eta', 'shipped', 3, ?3, 'evt_eta', ?4, ?3, ?3, ?3)`,
        ).bind(ids[index], crypto.randomUUID(), at, estimate),
      ),
    );
    const migration = env.TEST_MIGRATIONS.find((entry) => entry.name.startsWith("0031_"));
    expect(migration).toBeDefined();
    await env.DB.batch((migration?.queries ?? []).map((query) => env.DB.prepare(query)));
    for (const [index, [, expected]] of cases.entries()) {
      expect(await estimateOf(ids[index] ?? "")).toBe(expected);
    }
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listNotifications } from "../../src/db/lists";
import { notificationStats, notificationWithHistory } from "../../src/db/notification-views";
import { andEventInScope, type StaffScope } from "../../src/db/scope";
import { hookBinds, wrapDatabase } from "../helpers/d1";

/**
 * Notifications belong to a clinic through their event. A scoped read checks each row's event by its
 * primary key as it walks its own index, so its cost follows the rows it returns or counts, not how many
 * events the clinic has: `event_id IN (the clinic's events)` read every one of them first.
 */

const MANY = 400;
const A = "clinic-scope-reads-a";
const B = "clinic-scope-reads-b";
const viewerOf = (clinic: string): StaffScope => ({ role: "viewer", clinics: [clinic] });

/** `count` processed events of `clinic`, each with one sent SMS notification (ids of the derived form). */
async function seed(clinic: string, count: number, from: number): Promise<void> {
  await env.DB.batch([
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT ?2 UNION ALL SELECT i + 1 FROM n WHERE i < ?2 + ?3 - 1)
INSERT INTO events (event_id, event_type, clinic_id, status, attempts, occurred_at, received_at, payload_hash, conflicts, applications)
SELECT printf('evt_scope_%06d', i), 'order:shipped', ?1, 'processed', 1, printf('2026-01-10T00:00:%06dZ', i),
  printf('2026-01-10T00:00:%06dZ', i), 'hash', 0, 1 FROM n`,
    ).bind(clinic, from, count),
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 + ?2 - 1)
INSERT INTO notifications (notification_id, event_id, channel, kind, patient_id, entity_id, status, attempts,
  created_at, updated_at, created_status, status_at)
SELECT printf('ntf_evt_scope_%06d.sms', i), printf('evt_scope_%06d', i), 'sms', 'order_shipped', 'pat_scope',
  printf('ord_scope_%06d', i), CASE WHEN i % 40 = 0 THEN 'failed' ELSE 'sent' END, 1,
  printf('2026-01-10T00:00:%06dZ', i), printf('2026-01-10T00:00:%06dZ', i), 'pending', printf('2026-01-10T00:00:%06dZ', i)
FROM n`,
    ).bind(from, count),
  ]);
}

/** env.DB, summing the runtime's `rows_read` of every statement run through it (alone or in a batch), by SQL. */
function countingReads(): { db: D1Database; rowsRead: (sqlStart?: string) => number } {
  const read = new Map<string, number>();
  const sqlOf = new WeakMap<object, string>();
  const add = (sql: string | undefined, result: unknown) => {
    const rows = (result as { meta?: { rows_read?: number } } | null)?.meta?.rows_read ?? 0;
    read.set(sql ?? "", (read.get(sql ?? "") ?? 0) + rows);
    return result;
  };
  const db = wrapDatabase(env.DB, {
    prepare: hookBinds((sql, bound) => {
      sqlOf.set(bound, sql);
      const all = bound.all.bind(bound);
      bound.all = (async () => add(sql, await all())) as typeof bound.all;
    }),
    batch: async (statements, batch) => {
      const results = await batch(statements);
      for (const [index, result] of results.entries()) add(sqlOf.get(statements[index]!), result);
      return results;
    },
  });
  const rowsRead = (sqlStart = "") =>
    [...read].filter(([sql]) => sql.startsWith(sqlStart)).reduce((sum, [, rows]) => sum + rows, 0);
  return { db, rowsRead };
}

describe("a read scoped to some clinics through the notifications' events", () => {
  it("reads about the rows it answers, however many events the clinic has, and only its clinic's rows", async () => {
    await seed(A, MANY, 1);
    await seed(B, 10, MANY + 1);

    const page = countingReads();
    const listed = await listNotifications(page.db, viewerOf(A), { limit: 10 });
    expect(listed.rows).toHaveLength(10);
    expect(listed.rows.every((row) => Number(row.event_id.slice(-6)) <= MANY)).toBe(true);
    // Ten rows and their events by primary key, not the clinic's 400 events first.
    expect(page.rowsRead()).toBeLessThan(60);

    // A's page skipped B's ten, the newest of all; a viewer of B sees those ten and none of A's 400.
    const ofB = await listNotifications(env.DB, viewerOf(B), { limit: 50 });
    expect(ofB.rows.map((row) => row.event_id).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `evt_scope_${String(MANY + 1 + i).padStart(6, "0")}`),
    );

    const stats = countingReads();
    expect(await notificationStats(stats.db, viewerOf(A))).toMatchObject({
      total: MANY,
      by_status: { failed: MANY / 40, sent: MANY - MANY / 40 },
    });
    expect(await notificationStats(env.DB, viewerOf(B))).toMatchObject({ total: 10, by_status: { sent: 10 } });
    // The counts by status read the rows of every status but `sent` (10 failed here), each with its
    // event by primary key; the total (a join from the clinic's events) reads its range either way.
    expect(stats.rowsRead("SELECT status AS key")).toBeLessThan(60);

    // One notification: its row and its event, not the clinic's events.
    const one = countingReads();
    expect(await notificationWithHistory(one.db, viewerOf(A), "ntf_evt_scope_000007.sms")).not.toBeNull();
    expect(one.rowsRead()).toBeLessThan(20);
    expect(await notificationWithHistory(env.DB, viewerOf(B), "ntf_evt_scope_000007.sms")).toBeNull();
  });

  it("refuses an event column without its table, which would name the subquery's own event", () => {
    expect(() => andEventInScope(viewerOf(A), "event_id", "?1")).toThrow(/table or alias/);
    expect(andEventInScope(viewerOf(A), "notifications.event_id", "?1").sql).toContain(
      "scope_event.event_id = notifications.event_id",
    );
    expect(andEventInScope({ role: "admin", clinics: "all" }, "event_id", "?1")).toEqual({ sql: "", values: [] });
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listNotifications } from "../../src/db/lists";
import { NOTIFICATION_OUTBOX, reopenNotifications } from "../../src/db/notification-outbox";
import { applyDeliveryReport, deliveryReportStatement } from "../../src/db/notification-sends";
import { notificationStats, notificationWithHistory } from "../../src/db/notification-views";
import { readOverview } from "../../src/db/overview";
import { ALL_CLINICS, type StaffScope } from "../../src/db/scope";
import { selectIdsByPrefix } from "../../src/db/search";
import { notificationsInStatus, openAlertsStatement } from "../../src/db/watch";
import { hookBinds, queryPlans, wrapDatabase } from "../helpers/d1";
import { CLINIC_ID, uniqueId } from "../helpers/events";

/**
 * D1 rows written on the notification path (issue 26.2, migrations 0175 to 0177), by the runtime's
 * `meta.rows_written`, and what the readers those migrations touch still show: the status history in
 * the order it was written, the id search in any case, the counts by status, and the index each query
 * of the status index reads.
 */

const T0 = "2026-01-01T00:00:00.000Z";

/** A notification row as the outbox writes it (`created_status` 'pending', migration 0131), or in `status`. */
async function insertNotification(status = "pending", id = `ntf_${uniqueId("n").replaceAll("_", "")}`) {
  const eventId = uniqueId("evt");
  await env.DB.prepare(
    `INSERT INTO events (event_id, event_type, clinic_id, status, occurred_at, received_at, payload_hash)
     VALUES (?1, 'order:shipped', ?2, 'processed', ?3, ?3, 'h')`,
  )
    .bind(eventId, CLINIC_ID, T0)
    .run();
  const result = await env.DB.prepare(
    `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status,
       created_at, updated_at, created_status)
     VALUES (?1, ?2, 'sms', 'order_shipped', 'shipped', 'pat_rows', ?2, ?3, ?4, ?4,
       CASE WHEN ?3 = 'pending' THEN 'pending' END)`,
  )
    .bind(id, eventId, status, T0)
    .run();
  return { id, eventId, rowsWritten: result.meta.rows_written };
}

async function setStatus(id: string, status: string, at: string): Promise<number> {
  const result = await env.DB.prepare(
    `UPDATE notifications SET status = ?2, updated_at = ?3 WHERE notification_id = ?1`,
  )
    .bind(id, status, at)
    .run();
  return result.meta.rows_written;
}

describe("D1 rows written per notification", () => {
  it("an insert writes the row and five index entries: no lower(notification_id) entry (migration 0177)", async () => {
    // (event_id, channel) (a random id, as before migration 0186), one per topic, patient, status,
    // created: 5 entries and the row (7 before 0177).
    expect((await insertNotification()).rowsWritten).toBe(6);
  });

  it("a status change writes one history row, the table keyed by notification and seq (migration 0175)", async () => {
    const { id } = await insertNotification("held");
    // The row, its status entry (failed is in the status index), the history row, the change (0121):
    // the history row's index entry (notification_status_history_by_id) is gone.
    expect(await setStatus(id, "failed", "2026-01-01T00:01:00.000Z")).toBe(4);
    const { results } = await env.DB.prepare(
      `SELECT name FROM sqlite_master WHERE tbl_name = 'notification_status_history' AND type = 'index'`,
    ).all<{ name: string }>();
    // A WITHOUT ROWID table's primary key is the table: no index of its own.
    expect(results).toEqual([]);
  });

  it("a status change to 'sent' writes no status index entry (migration 0176)", async () => {
    const { id } = await insertNotification();
    // The row, the history row, the change: the row leaves the status index (free).
    expect(await setStatus(id, "sent", "2026-01-01T00:01:00.000Z")).toBe(3);
  });
});

/** A status entered as the sender's outcome and a delivery report write it: `status_at` with `updated_at`. */
async function enterStatus(id: string, status: string, at: string, providerMessageId: string | null = null) {
  const result = await env.DB.prepare(
    `UPDATE notifications SET status = ?2, status_at = ?3, updated_at = ?3,
       provider_message_id = COALESCE(?4, provider_message_id), error = CASE WHEN ?2 = 'superseded' THEN 'entity now delivered' END
     WHERE notification_id = ?1`,
  )
    .bind(id, status, at, providerMessageId)
    .run();
  return result.meta.rows_written;
}

async function historyOf(id: string) {
  const read = await notificationWithHistory(env.DB, ALL_CLINICS, id);
  return read?.history.map(({ status, at, error, provider_message_id }) => [status, at, error, provider_message_id]);
}

const T1 = "2026-01-01T00:01:00.000Z";
const T2 = "2026-01-01T00:02:00.000Z";

describe("the current status read from the row (migration 0185)", () => {
  it("a notification sent or superseded as the sender writes it stores no history row for it", async () => {
    const sent = await insertNotification();
    // The row, its provider-id entry and the change (0121); no history row (4 with it), no status
    // entry (a sent row has none).
    expect(await enterStatus(sent.id, "sent", T1, "SMcurrent1")).toBe(3);
    expect(await historyOf(sent.id)).toEqual([
      ["pending", T0, null, null],
      ["sent", T1, null, "SMcurrent1"],
    ]);
    const superseded = await insertNotification();
    // The row and its status entry (superseded is in the status index); no change row for it.
    expect(await enterStatus(superseded.id, "superseded", T1)).toBe(2);
    expect(await historyOf(superseded.id)).toEqual([
      ["pending", T0, null, null],
      ["superseded", T1, "entity now delivered", null],
    ]);
    const stored = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM notification_status_history WHERE notification_id IN (?1, ?2)`,
    )
      .bind(sent.id, superseded.id)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);
  });

  it("a sent row moved on stores 'sent' as it was entered, then the new status, as before", async () => {
    const { id } = await insertNotification();
    await enterStatus(id, "sent", T1, "SMcurrent2");
    await deliveryReportStatement(
      env.DB,
      { notificationId: id, providerMessageId: "SMcurrent2", status: "delivered", error: null, channel: "sms" },
      T2,
    ).run();
    expect(await historyOf(id)).toEqual([
      ["pending", T0, null, null],
      ["sent", T1, null, "SMcurrent2"],
      ["delivered", T2, null, "SMcurrent2"],
    ]);
  });

  it("rows stored before and the release before's writes read the same history, no status twice", async () => {
    // Stored before (or by the release before): 'sent' stored as entered, `status_at` never set.
    const legacy = await insertNotification();
    await setStatus(legacy.id, "sent", T1);
    expect(await historyOf(legacy.id)).toEqual([
      ["pending", T0, null, null],
      ["sent", T1, null, null],
    ]);
    // Then this code's delivery report: 'sent' is already the last stored row, so it is not stored again.
    await deliveryReportStatement(
      env.DB,
      { notificationId: legacy.id, providerMessageId: "SMlegacy", status: "delivered", error: null, channel: "sms" },
      T2,
    ).run();
    expect((await historyOf(legacy.id))?.map(([status]) => status)).toEqual(["pending", "sent", "delivered"]);
    // Sent by this code, then moved on by the release before (which leaves `status_at` alone).
    const mixed = await insertNotification();
    await enterStatus(mixed.id, "sent", T1);
    await setStatus(mixed.id, "delivered", T2);
    expect(await historyOf(mixed.id)).toEqual([
      ["pending", T0, null, null],
      ["sent", T1, null, null],
      ["delivered", T2, null, null],
    ]);
    // Sent by the release before after this code had set `status_at` for another status: stored.
    const back = await insertNotification();
    await enterStatus(back.id, "sent", T1);
    await setStatus(back.id, "pending", T2);
    await setStatus(back.id, "sent", "2026-01-01T00:03:00.000Z");
    expect((await historyOf(back.id))?.map(([status, at]) => [status, at])).toEqual([
      ["pending", T0],
      ["sent", T1],
      ["pending", T2],
      ["sent", "2026-01-01T00:03:00.000Z"],
    ]);
    // Moved on by this code: that 'sent' is stored already (its `status_at` is the earlier one's).
    await deliveryReportStatement(
      env.DB,
      { notificationId: back.id, providerMessageId: "SMback", status: "delivered", error: null, channel: "sms" },
      "2026-01-01T00:04:00.000Z",
    ).run();
    expect((await historyOf(back.id))?.map(([status, at]) => [status, at])).toEqual([
      ["pending", T0],
      ["sent", T1],
      ["pending", T2],
      ["sent", "2026-01-01T00:03:00.000Z"],
      ["delivered", "2026-01-01T00:04:00.000Z"],
    ]);
  });
});

describe("D1 rows written per delivery report", () => {
  /** A sent message with the provider's id, as the sender's outcome records it. */
  async function sentMessage(channel: "sms" | "email", providerMessageId: string | null) {
    const { id } = await insertNotification();
    await env.DB.prepare(
      `UPDATE notifications SET status = 'sent', channel = ?2, provider_message_id = ?3, sent_at = ?4, updated_at = ?4
       WHERE notification_id = ?1`,
    )
      .bind(id, channel, providerMessageId, T0)
      .run();
    return id;
  }

  /** `db` counting the rows every statement and batch writes. */
  function counting(): { db: D1Database; written: () => number } {
    let written = 0;
    const db = wrapDatabase(env.DB, {
      prepare: hookBinds((_sql, bound) => {
        bound.first = (async (column?: string) => {
          const { meta, results } = await bound.run();
          written += meta.rows_written;
          const row = (results[0] ?? null) as Record<string, unknown> | null;
          return column && row ? row[column] : row;
        }) as typeof bound.first;
      }),
      batch: async (statements, batch) => {
        const results = await batch(statements);
        for (const result of results) written += result.meta.rows_written;
        return results;
      },
    });
    return { db, written: () => written };
  }

  it("a report by our id on a row with the provider's id leaves that id's index entry alone", async () => {
    const id = await sentMessage("sms", "SMrows1");
    const { db, written } = counting();
    const row = await applyDeliveryReport(
      db,
      { notificationId: id, providerMessageId: "SMrows1", status: "delivered", error: null },
      "2026-01-01T00:02:00.000Z",
    );
    expect(row).toMatchObject({ notification_id: id, status: "delivered", provider_message_id: "SMrows1" });
    // The row, its status entry (delivered is in the status index), the history row, the change: the
    // provider-id entry, SET unchanged, added a fifth.
    expect(written()).toBe(4);
  });

  it("a report by the provider's id (Resend) writes no provider-id entry either", async () => {
    const id = await sentMessage("email", "re_rows1");
    const result = await deliveryReportStatement(
      env.DB,
      { notificationId: null, providerMessageId: "re_rows1", status: "delivered", error: null, channel: "email" },
      "2026-01-01T00:02:00.000Z",
    ).run<{ notification_id: string; status: string }>();
    expect(result.results).toMatchObject([{ notification_id: id, status: "delivered" }]);
    expect(result.meta.rows_written).toBe(4);
  });

  it("a report by our id before the send's outcome still records the provider's id", async () => {
    const { id } = await insertNotification();
    const row = await applyDeliveryReport(
      env.DB,
      { notificationId: id, providerMessageId: "SMearly", status: "sent", error: null },
      "2026-01-01T00:02:00.000Z",
    );
    expect(row).toMatchObject({
      notification_id: id,
      status: "sent",
      provider_message_id: "SMearly",
      provider: "twilio",
    });
    // Another provider id never replaces the one recorded.
    expect(
      await applyDeliveryReport(
        env.DB,
        { notificationId: id, providerMessageId: "SMother", status: "delivered", error: null },
        "2026-01-01T00:03:00.000Z",
      ),
    ).toBeNull();
  });
});

describe("the status history reads as it was written", () => {
  it("in write order, with changes in the same millisecond and a clock that steps back", async () => {
    const { id } = await insertNotification();
    const same = "2026-01-01T00:05:00.000Z";
    await setStatus(id, "held", same);
    await setStatus(id, "pending", same);
    await setStatus(id, "scheduled", same);
    // Another sender's clock, a second behind.
    await setStatus(id, "sent", "2026-01-01T00:04:59.000Z");
    await setStatus(id, "delivered", "2026-01-01T00:06:00.000Z");
    const found = await notificationWithHistory(env.DB, ALL_CLINICS, id);
    expect(found?.history.map(({ status, at }) => [status, at])).toEqual([
      ["pending", T0],
      ["held", same],
      ["pending", same],
      ["scheduled", same],
      ["sent", "2026-01-01T00:04:59.000Z"],
      ["delivered", "2026-01-01T00:06:00.000Z"],
    ]);
    const stored = await env.DB.prepare(
      `SELECT seq, status FROM notification_status_history WHERE notification_id = ?1 ORDER BY seq`,
    )
      .bind(id)
      .all<{ seq: number; status: string }>();
    expect(stored.results).toEqual(
      ["held", "pending", "scheduled", "sent", "delivered"].map((status, index) => ({ seq: index + 1, status })),
    );
  });

  it("reads the same for the release before, which orders by rowid (a rollback runs on migration 0175)", async () => {
    const { id } = await insertNotification();
    const same = "2026-01-01T00:07:00.000Z";
    for (const status of ["held", "pending", "sent"]) await setStatus(id, status, same);
    // statusHistorySql as it was before migration 0175.
    const before = await env.DB.prepare(
      `SELECT status, at, error, provider_message_id FROM (
SELECT notification_id, created_status AS status, created_at AS at, NULL AS error, NULL AS provider_message_id, 0 AS seq
  FROM notifications WHERE notification_id = ?1 AND created_status IS NOT NULL
UNION ALL
SELECT notification_id, status, at, error, provider_message_id, rowid AS seq
  FROM notification_status_history WHERE notification_id = ?1) ORDER BY seq`,
    )
      .bind(id)
      .all();
    const found = await notificationWithHistory(env.DB, ALL_CLINICS, id);
    expect(before.results).toEqual(found?.history);
    expect(found?.history.map(({ status }) => status)).toEqual(["pending", "held", "pending", "sent"]);
  });

  it("a held insert's stored first row comes first, and the history goes with its notification", async () => {
    const { id } = await insertNotification("held");
    await setStatus(id, "pending", T0);
    await setStatus(id, "sent", T0);
    const found = await notificationWithHistory(env.DB, ALL_CLINICS, id);
    expect(found?.history.map(({ status }) => status)).toEqual(["held", "pending", "sent"]);
    await env.DB.prepare(`DELETE FROM notifications WHERE notification_id = ?1`).bind(id).run();
    const left = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM notification_status_history WHERE notification_id = ?1`,
    )
      .bind(id)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });
});

describe("the id search finds notifications on their primary key", () => {
  it("by a prefix in any case, a lower-case id on the primary key's range (no lower() entry)", async () => {
    const id = `ntf_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
    await insertNotification("pending", id);
    for (const prefix of [id.slice(0, 12).toUpperCase(), id.slice(0, 12), `NtF_${id.slice(4, 14)}`]) {
      const { results } = await selectIdsByPrefix(env.DB, ALL_CLINICS, null, "notification", prefix, 10).all<{
        id: string;
      }>();
      expect(results.map((row) => row.id)).toEqual([id]);
    }
    const plans = await queryPlans(env.DB, (db) =>
      selectIdsByPrefix(db, ALL_CLINICS, null, "notification", "NTF_AB", 10).all(),
    );
    // A lower-case id is in range on the primary key; only an id with an upper-case letter (its event's,
    // migration 0186) is on notifications_id_mixed_case (test/db/notification-keys.test.ts).
    expect(plans).toContain("SEARCH t USING PRIMARY KEY (notification_id>? AND notification_id<?)");
  });
});

describe("the readers of the status index without the sent rows (migration 0176)", () => {
  const some: StaffScope = { role: "operator", clinics: [CLINIC_ID] };

  it("count sent as all the rows less the others, as a GROUP BY over every row does", async () => {
    for (const status of ["sent", "sent", "delivered", "held", "failed", "pending", "suppressed"])
      await insertNotification(status);
    const { results } = await env.DB.prepare(
      `SELECT status, COUNT(*) AS count FROM notifications GROUP BY status ORDER BY status`,
    ).all<{ status: string; count: number }>();
    const stats = await notificationStats(env.DB, ALL_CLINICS);
    expect(Object.entries(stats.by_status)).toEqual(results.map((row) => [row.status, row.count]));
    expect(stats.total).toBe(results.reduce((sum, row) => sum + row.count, 0));
    expect(stats.by_status.sent).toBeGreaterThanOrEqual(2);
    expect(await notificationStats(env.DB, some)).toEqual(stats);
  });

  it("lists by 'sent' from notifications_created in its order, by any other status from the status index", async () => {
    const sent = await insertNotification("sent");
    const held = await insertNotification("held");
    for (const scope of [ALL_CLINICS, some]) {
      const sentPage = await listNotifications(env.DB, scope, { status: "sent", limit: 50 });
      expect(sentPage.rows.map((row) => row.notification_id)).toContain(sent.id);
      expect(sentPage.rows.every((row) => row.status === "sent")).toBe(true);
      const heldPage = await listNotifications(env.DB, scope, { status: "held", limit: 50 });
      expect(heldPage.rows.map((row) => row.notification_id)).toContain(held.id);
      expect(heldPage.rows.every((row) => row.status === "held")).toBe(true);
    }
    const plan = (status: string) =>
      queryPlans(env.DB, (db) => listNotifications(db, ALL_CLINICS, { status, limit: 50 }));
    expect(await plan("held")).toEqual([
      expect.stringMatching(/USING INDEX notifications_status_created \(status=\?\)$/),
    ]);
    expect(await plan("sent")).toEqual(["SCAN notifications USING INDEX notifications_created"]);
  });

  it("every query that filters by another status reads the status index (its condition spelled out)", async () => {
    // Without `status <> 'sent'` in its WHERE, SQLite passes the partial index by: the overview's MIN
    // then walks notifications_created from its oldest row until a pending one.
    const reads: [string, (db: D1Database) => Promise<unknown>, string[]][] = [
      [
        "the sweep",
        (db) => NOTIFICATION_OUTBOX.takeStale(db, T0, T0, 10),
        ["SEARCH notifications USING INDEX notifications_status_created (status=?)"],
      ],
      [
        "the overview's oldest pending",
        (db) => readOverview(db, ALL_CLINICS, [], T0),
        ["SEARCH notifications USING COVERING INDEX notifications_status_created (status=?)"],
      ],
      [
        "the replay of held rows",
        (db) => reopenNotifications(db, ALL_CLINICS, "held", 10, T0),
        ["SEARCH notifications USING COVERING INDEX notifications_status_created (status=?)"],
      ],
      [
        "the watch rule",
        (db) => openAlertsStatement(db, notificationsInStatus("held"), new Date(T0), 10).run(),
        ["SEARCH n USING INDEX notifications_status_created (status=?)"],
      ],
      [
        "the counts",
        (db) => notificationStats(db, ALL_CLINICS),
        [
          "SCAN notifications USING COVERING INDEX notifications_created",
          "SCAN notifications USING COVERING INDEX notifications_status_created",
          "SEARCH notifications USING INDEX notifications_status_created (status=?)",
          "SEARCH notifications USING INDEX notifications_status_created (status=?)",
        ],
      ],
    ];
    for (const [name, read, expected] of reads) {
      const plans = await queryPlans(env.DB, read);
      // The lines that read notifications other than by primary key.
      const reading = plans.filter((detail) => /^(SEARCH|SCAN) (notifications|n) (?!USING PRIMARY KEY)/.test(detail));
      expect(reading, name).toEqual(expected);
    }
  });
});

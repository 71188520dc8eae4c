import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { EVENT_SOURCE, notificationsOfEvents } from "../../src/db/archive";
import { eventsForEntity } from "../../src/db/event-search";
import { failDeadNotifications, insertOutboxRow, NOTIFICATION_OUTBOX } from "../../src/db/notification-outbox";
import { notificationOutcomesOf, notificationStats, notificationsForEvent } from "../../src/db/notification-views";
import type { StaffScope } from "../../src/db/scope";
import { selectIdsByPrefix } from "../../src/db/search";
import { batchedMeta, queryPlans } from "../helpers/d1";
import { CLINIC_ID, makeEvent, OTHER_CLINIC_ID, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, createPatient, DAYTIME, mockProviders, runSender } from "../helpers/notifications";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/**
 * A notification's id is derived from its send job's key, `ntf_<event_id>.<channel>` (migration 0186,
 * issue 26.2): the primary key answers every lookup by (event, channel), so an insert writes no
 * (event_id, channel) entry. The rows written before keep their random ids, in the partial index
 * `notifications_event_channel`; every reader by job key or event finds both, and (event, channel)
 * stays unique across the two, whichever release writes.
 */

const server = useMockNetwork();

const scopeOf = (clinic: string): StaffScope => ({ role: "viewer", clinics: [clinic] });

/** A new patient's `order:shipped` (in `clinic`), applied by the events consumer: its event, order and send jobs. */
async function shipped(clinic = CLINIC_ID) {
  const patientId = await createPatient();
  const orderId = uniqueId("ord");
  const event = makeEvent("order:shipped", { clinic_id: clinic, data: { order_id: orderId, patient_id: patientId } });
  const jobs = await applyAndCaptureJobs([event]);
  expect(jobs.map((job) => job.channel).sort()).toEqual(["email", "sms"]);
  return { eventId: event.event_id, orderId, jobs };
}

/** Gives the (event, channel) row a random id, as the release before 0186 wrote it; answers that id. */
async function asWrittenBefore(eventId: string, channel: "sms" | "email"): Promise<string> {
  const older = `ntf_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const result = await env.DB.prepare(`UPDATE notifications SET notification_id = ?3 WHERE notification_id = ?1 || ?2`)
    .bind(`ntf_${eventId}.`, channel, older)
    .run();
  expect(result.meta.changes).toBe(1);
  return older;
}

async function rowsOf(eventId: string) {
  const { results } = await env.DB.prepare(
    `SELECT notification_id, channel, status FROM notifications WHERE event_id = ?1 ORDER BY channel`,
  )
    .bind(eventId)
    .all<{ notification_id: string; channel: string; status: string }>();
  return results;
}

describe("notification ids derived from the send job's key (migration 0186)", () => {
  it("an outbox insert keys its row by (event, channel): the row and four index entries, none for the key", async () => {
    const patientId = await createPatient();
    const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
    const { db, metas } = batchedMeta(env.DB, "INSERT INTO notifications");
    const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
    try {
      await runBatch(EVENTS_QUEUE, [eventMessage(event)], { ...env, DB: db });
    } finally {
      sendBatch.mockRestore();
    }
    // One per topic, patient, status, created, and the row (a tracking update's insert wrote nothing).
    expect(metas.filter((meta) => meta.changes > 0).map((meta) => meta.rows_written)).toEqual([5, 5]);
    expect((await rowsOf(event.event_id)).map((row) => row.notification_id)).toEqual([
      `ntf_${event.event_id}.email`,
      `ntf_${event.event_id}.sms`,
    ]);
  });

  it("a job is read on the primary key, or on the older rows' index: never a scan", async () => {
    const { jobs } = await shipped();
    const plans = await queryPlans(env.DB, (db) => NOTIFICATION_OUTBOX.read(db, jobs, DAYTIME));
    expect(plans).toContain("MULTI-INDEX OR");
    expect(plans).toContainEqual(expect.stringMatching(/^SEARCH row USING PRIMARY KEY \(notification_id=\?\)$/));
    expect(plans).toContainEqual(
      expect.stringMatching(
        /^SEARCH row USING (COVERING )?INDEX notifications_event_channel \(event_id=\? AND channel=\?\)$/,
      ),
    );
  });

  it("every reader by job or event finds a row written before beside a derived one, within its clinic", async () => {
    const before = (await notificationStats(env.DB, scopeOf(CLINIC_ID))).total;
    const elsewhere = (await notificationStats(env.DB, scopeOf(OTHER_CLINIC_ID))).total;
    const { eventId, orderId, jobs } = await shipped();
    const older = await asWrittenBefore(eventId, "sms");
    const ids = [`ntf_${eventId}.email`, older];

    const read = await NOTIFICATION_OUTBOX.read<{ notification_id: string }>(env.DB, jobs, DAYTIME);
    expect(read.free.map((row) => row.notification_id).sort()).toEqual([...ids].sort());
    expect((await notificationsForEvent(env.DB, eventId)).map((row) => row.notification_id)).toEqual(ids);
    expect((await notificationOutcomesOf(env.DB, [eventId])).map((row) => row.channel)).toEqual(["email", "sms"]);
    const entity = await eventsForEntity(env.DB, scopeOf(CLINIC_ID), "order", orderId, 10);
    expect(entity.notifications.map((row) => row.notification_id).sort()).toEqual([...ids].sort());
    expect((await eventsForEntity(env.DB, scopeOf(OTHER_CLINIC_ID), "order", orderId, 10)).notifications).toEqual([]);
    expect((await notificationsOfEvents(env.DB, [eventId])).map((row) => row.notification_id)).toEqual(ids);
    expect((await notificationStats(env.DB, scopeOf(CLINIC_ID))).total).toBe(before + 2);
    expect((await notificationStats(env.DB, scopeOf(OTHER_CLINIC_ID))).total).toBe(elsewhere);

    // The archive leaves the event while a row of either kind is open, and takes it once both are final.
    const finished = () =>
      env.DB.prepare(`SELECT COUNT(*) AS n FROM events WHERE event_id = ?1 AND ${EVENT_SOURCE.condition(() => "NULL")}`)
        .bind(eventId)
        .first<number>("n");
    expect(await finished()).toBe(0);
    const providers = mockProviders(server);
    const result = await runSender(jobs);
    expect(result.explicitAcks).toHaveLength(2);
    expect(providers.sms).toHaveLength(1);
    expect(providers.emails).toHaveLength(1);
    expect(await rowsOf(eventId)).toEqual([
      { notification_id: `ntf_${eventId}.email`, channel: "email", status: "sent" },
      { notification_id: older, channel: "sms", status: "sent" },
    ]);
    expect(await finished()).toBe(1);
  });

  it("a dead letter fails the rows of both kinds", async () => {
    const { eventId, jobs } = await shipped();
    await asWrittenBefore(eventId, "email");
    expect(await failDeadNotifications(env.DB, jobs, DAYTIME)).toBe(2);
    expect((await rowsOf(eventId)).map((row) => row.status)).toEqual(["failed", "failed"]);
  });

  it("(event, channel) stays unique across both kinds of id, whichever release inserts", async () => {
    // This release replays an event the release before applied: its derived row is not added.
    const { eventId } = await shipped();
    const older = await asWrittenBefore(eventId, "sms");
    const { lease_owner: leaseOwner, data } = (await env.DB.prepare(
      `SELECT lease_owner, json_extract(payload, '$.data') AS data FROM events WHERE event_id = ?1`,
    )
      .bind(eventId)
      .first<{ lease_owner: string; data: string }>())!;
    const { order_id: orderId, patient_id: patientId } = JSON.parse(data) as { order_id: string; patient_id: string };
    const replay = await insertOutboxRow(
      env.DB,
      { eventId, channel: "sms", kind: "order_shipped:again", patientId, entityKind: "order", entityId: orderId },
      { leaseOwner, now: new Date(DAYTIME).toISOString() },
    ).run();
    expect(replay.meta.changes).toBe(0);
    // The release before (random ids) replays an event this release applied: no second row either.
    const before = await env.DB.prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, topic, patient_id, entity_id, status,
         created_at, updated_at, created_status)
       VALUES ('ntf_' || lower(hex(randomblob(12))), ?1, 'email', 'order_shipped', 'again', ?2, ?3, 'pending', ?4, ?4, 'pending')
       ON CONFLICT DO NOTHING`,
    )
      .bind(eventId, patientId, orderId, new Date(DAYTIME).toISOString())
      .run();
    expect(before.meta.changes).toBe(0);
    expect((await rowsOf(eventId)).map((row) => row.notification_id)).toEqual([`ntf_${eventId}.email`, older]);
  });

  it("the id search finds a derived id in any case: on the primary key, or on notifications_id_mixed_case", async () => {
    const stem = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
    const patientId = await createPatient();
    const events = [`evt_${stem}a`, `EVT_${stem.toUpperCase()}B`].map((eventId) =>
      makeEvent("order:shipped", { event_id: eventId, data: { order_id: uniqueId("ord"), patient_id: patientId } }),
    );
    await applyAndCaptureJobs(events);
    const found = async (prefix: string) => {
      const { results } = await selectIdsByPrefix(env.DB, scopeOf(CLINIC_ID), null, "notification", prefix, 10).all<{
        id: string;
      }>();
      return results.map((row) => row.id);
    };
    const all = [
      `ntf_evt_${stem}a.email`,
      `ntf_evt_${stem}a.sms`,
      `ntf_EVT_${stem.toUpperCase()}B.email`,
      `ntf_EVT_${stem.toUpperCase()}B.sms`,
    ];
    expect(await found(`ntf_evt_${stem}`)).toEqual(all);
    expect(await found(`NTF_EVT_${stem.toUpperCase()}`)).toEqual(all);
    expect(await found(`ntf_evt_${stem}b.s`)).toEqual([`ntf_EVT_${stem.toUpperCase()}B.sms`]);
    const plans = await queryPlans(env.DB, (db) =>
      selectIdsByPrefix(db, scopeOf(CLINIC_ID), null, "notification", `ntf_evt_${stem}`, 10).all(),
    );
    expect(plans).toContainEqual(
      expect.stringMatching(/^SEARCH t USING PRIMARY KEY \(notification_id>\? AND notification_id<\?\)$/),
    );
    expect(plans).toContainEqual(expect.stringMatching(/^SEARCH t USING INDEX notifications_id_mixed_case/));
  });
});

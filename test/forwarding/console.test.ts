import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import type { DeliveryKey } from "../../src/db/deliveries";
import { accessEnv } from "../helpers/access";
import { adminFetchWith } from "../helpers/clinics";
import { csrfTokenOf } from "../helpers/console";
import { uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { useStaffAccess } from "../helpers/staff-access";

const staff = useStaffAccess(useMockNetwork());

/** Two clinics, A and B, served behind Access; `adminEnv` also takes the admin token for seeding. */
function twoClinics() {
  const a = crypto.randomUUID();
  const b = crypto.randomUUID();
  const settings = { NOVAMED_CLINIC_IDS: `${a},${b}`, CLINIC_TIMEZONE: "UTC" };
  return { a, b, workerEnv: accessEnv({ ...settings, ADMIN_TOKEN: undefined }), adminEnv: accessEnv(settings) };
}

/** The console as a new staff member of `role` for `clinics`; answers its fetch and its identity. */
async function consoleOf(workerEnv: Env, adminEnv: Env, role: string, clinics: string[]) {
  const identity = await staff.member(adminEnv, role, clinics);
  return { identity, fetch: await staff.console(workerEnv, identity) };
}

async function createDestination(adminEnv: Env, clinicId: string): Promise<string> {
  const id = uniqueId("dst");
  const response = await adminFetchWith(adminEnv, `/destinations/${id}`, {
    method: "PUT",
    body: JSON.stringify({ clinic_id: clinicId, url: `https://ehr-${id}.example/hooks`, events: ["*"] }),
  });
  expect(response.status).toBe(201);
  return id;
}

interface SeededDelivery {
  deliveryId: string;
  changeId: string;
}

/** A change of `clinicId` at `occurredAt` and its delivery to `destinationId` in `status`, with `attempts`. */
async function seedDelivery(
  destinationId: string,
  clinicId: string,
  status: "pending" | "delivered" | "failed",
  occurredAt: string,
  attempts: { http_status: number | null; error_class: string | null; response_excerpt: string | null }[] = [],
): Promise<SeededDelivery> {
  const changeId = uniqueId("chg");
  const deliveryId = uniqueId("dlv");
  const change = await env.DB.prepare(
    `INSERT INTO changes (change_id, type, occurred_at, clinic_id, entity_kind, entity_id, status)
     VALUES (?1, 'order.status_changed', ?2, ?3, 'order', ?4, 'shipped') RETURNING sequence`,
  )
    .bind(changeId, occurredAt, clinicId, uniqueId("ord"))
    .first<{ sequence: number }>();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO clinic_deliveries (delivery_id, change_id, destination_id, change_sequence, status, attempts, error,
         created_at, updated_at, delivered_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)`,
    ).bind(
      deliveryId,
      changeId,
      destinationId,
      change?.sequence,
      status,
      attempts.length,
      status === "failed" ? "retries exhausted (http 500)" : null,
      occurredAt,
      status === "delivered" ? occurredAt : null,
    ),
    ...attempts.map((attempt, index) =>
      env.DB.prepare(
        `INSERT INTO clinic_delivery_attempts (delivery_id, attempt, at, http_status, latency_ms, error_class, response_excerpt)
         VALUES (?1, ?2, ?3, ?4, 1234, ?5, ?6)`,
      ).bind(deliveryId, index + 1, occurredAt, attempt.http_status, attempt.error_class, attempt.response_excerpt),
    ),
  ]);
  return { deliveryId, changeId };
}

async function statusOf(deliveryId: string): Promise<string | undefined> {
  const row = await env.DB.prepare(`SELECT status FROM clinic_deliveries WHERE delivery_id = ?1`)
    .bind(deliveryId)
    .first<{ status: string }>();
  return row?.status;
}

/** Captures the jobs sent to the clinic-deliveries queue. */
function capturingDeliveries(): DeliveryKey[] {
  const sent: DeliveryKey[] = [];
  vi.spyOn(env.DELIVERIES, "sendBatch").mockImplementation(async (messages) => {
    for (const message of messages) sent.push(message.body as DeliveryKey);
    return undefined as never;
  });
  return sent;
}

describe("the console's forwarding pages: destinations and their deliveries (admins only)", () => {
  it("lists each destination with its state and shows its deliveries with attempts, escaped, paged", async () => {
    const { a, b, workerEnv, adminEnv } = twoClinics();
    const ofA = await createDestination(adminEnv, a);
    const ofB = await createDestination(adminEnv, b);
    await env.DB.prepare(
      `UPDATE destinations SET state = 'paused', failure_streak = 12, probe_at = '2026-01-20T10:00:00.000Z',
         last_success_at = '2026-01-19T09:00:00.000Z' WHERE destination_id = ?1`,
    )
      .bind(ofA)
      .run();
    const failed = await seedDelivery(ofA, a, "failed", "2026-01-19T12:00:00.000Z", [
      { http_status: 500, error_class: "http_5xx", response_excerpt: "<script>alert(1)</script>" },
      { http_status: null, error_class: "timeout", response_excerpt: null },
    ]);

    // An admin of clinic A only: A's destination with its state, never B's (not listed, 404).
    const { fetch: adminOfA } = await consoleOf(workerEnv, adminEnv, "admin", [a]);
    const list = await adminOfA("/console/destinations");
    expect(list.status).toBe(200);
    const listHtml = await list.text();
    expect(listHtml).toContain('href="/console/destinations">Destinations</a>');
    expect(listHtml).toContain(`data-destination-id="${ofA}"`);
    expect(listHtml).toContain(">paused<");
    expect(listHtml).toContain('datetime="2026-01-19T09:00:00.000Z"');
    expect(listHtml).toContain('datetime="2026-01-20T10:00:00.000Z"');
    expect(listHtml).toContain(`https://ehr-${ofA}.example/hooks`);
    expect(listHtml).toContain(">12<");
    expect(listHtml).not.toContain(ofB);
    expect((await adminOfA(`/console/destinations/${ofB}`)).status).toBe(404);

    const page = await adminOfA(`/console/destinations/${ofA}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`data-delivery-id="${failed.deliveryId}"`);
    expect(html).toContain(failed.changeId);
    expect(html).toContain("retries exhausted (http 500)");
    expect(html).toContain("http_5xx");
    expect(html).toContain("timeout");
    expect(html).toContain("1234 ms");
    // The endpoint's answer is shown as text, never as markup.
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain(`value="${failed.deliveryId}"`);

    // The status filter, and the cursor pager over 51 deliveries.
    expect(await (await adminOfA(`/console/destinations/${ofA}?status=delivered`)).text()).not.toContain(
      failed.deliveryId,
    );
    const many = await createDestination(adminEnv, a);
    await env.DB.batch(
      Array.from({ length: 51 }, (_, index) =>
        env.DB.prepare(
          `INSERT INTO clinic_deliveries (delivery_id, change_id, destination_id, change_sequence, status, created_at, updated_at)
           VALUES (?1, ?2, ?3, ?4, 'pending', '2026-01-19T00:00:00Z', '2026-01-19T00:00:00Z')`,
        ).bind(`dlv_page_${many}_${index + 1}`, `chg_page_${many}_${index + 1}`, many, 1_000_000 + index + 1),
      ),
    );
    const first = await (await adminOfA(`/console/destinations/${many}`)).text();
    expect(first.match(/data-delivery-id=/g)).toHaveLength(50);
    expect(first).toContain(`href="/console/destinations/${many}?after=1000050"`);
    const second = await (await adminOfA(`/console/destinations/${many}?after=1000050`)).text();
    expect(second.match(/data-delivery-id=/g)).toHaveLength(1);
    expect(second).toContain(`dlv_page_${many}_51"`);
    expect(second).toContain(`href="/console/destinations/${many}">First page`);

    // Viewers and operators: no nav entry, and 403 on the pages and the replay.
    for (const role of ["viewer", "operator"]) {
      const { fetch: asStaff } = await consoleOf(workerEnv, adminEnv, role, [a]);
      const events = await (await asStaff("/console/events")).text();
      expect(events).not.toContain("/console/destinations");
      expect((await asStaff("/console/destinations")).status).toBe(403);
      expect((await asStaff(`/console/destinations/${ofA}`)).status).toBe(403);
      const replay = await asStaff(`/console/destinations/${ofA}/replay`, {
        _csrf: csrfTokenOf(events),
        scope: "selected",
        delivery_id: failed.deliveryId,
      });
      expect(replay.status).toBe(403);
    }
    expect(await statusOf(failed.deliveryId)).toBe("failed");

    const audit = await env.DB.prepare(
      `SELECT action, target_id, clinic_id, outcome FROM audit WHERE action LIKE 'destination.%' AND actor LIKE 'admin-%'
         AND target_id IN (?1, ?2, '*') ORDER BY audit_id`,
    )
      .bind(ofA, ofB)
      .all();
    expect(audit.results).toEqual(
      expect.arrayContaining([
        { action: "destination.list", target_id: "*", clinic_id: null, outcome: "success" },
        { action: "destination.deliveries", target_id: ofB, clinic_id: null, outcome: "not_found" },
        { action: "destination.deliveries", target_id: ofA, clinic_id: a, outcome: "success" },
      ]),
    );
  });

  it("replays the selected deliveries and all matching ones through the admin API's replay; CSRF and audit", async () => {
    const { a, b, workerEnv, adminEnv } = twoClinics();
    const id = await createDestination(adminEnv, a);
    const ofB = await createDestination(adminEnv, b);
    const early = await seedDelivery(id, a, "failed", "2026-01-10T12:00:00.000Z");
    const inRange = await seedDelivery(id, a, "failed", "2026-01-20T12:00:00.000Z");
    const late = await seedDelivery(id, a, "failed", "2026-02-01T12:00:00.000Z");
    const delivered = await seedDelivery(id, a, "delivered", "2026-01-21T12:00:00.000Z");
    const pending = await seedDelivery(id, a, "pending", "2026-01-22T12:00:00.000Z");
    const otherClinic = await seedDelivery(ofB, b, "failed", "2026-01-20T12:00:00.000Z");

    const { identity, fetch: asAdmin } = await consoleOf(workerEnv, adminEnv, "admin", [a]);
    const csrf = csrfTokenOf(await (await asAdmin(`/console/destinations/${id}?status=failed`)).text());
    const sent = capturingDeliveries();

    // Without the CSRF token: refused, nothing changes, nothing is sent.
    const forged = await asAdmin(`/console/destinations/${id}/replay`, {
      scope: "matching",
      replay_status: "failed",
    });
    expect(forged.status).toBe(403);
    expect(sent).toEqual([]);
    expect(await statusOf(inRange.deliveryId)).toBe("failed");

    // All matching: failed deliveries of changes in the range (clinic time, UTC here).
    const matching = await asAdmin(`/console/destinations/${id}/replay`, {
      _csrf: csrf,
      status: "failed",
      scope: "matching",
      replay_status: "failed",
      from: "2026-01-15T00:00",
      to: "2026-01-25T00:00",
    });
    expect(matching.status).toBe(303);
    expect(matching.headers.get("location")).toBe(`/console/destinations/${id}?status=failed&replayed=1&enqueued=1`);
    expect(sent).toEqual([{ change_id: inRange.changeId, destination_id: id }]);
    expect(await statusOf(inRange.deliveryId)).toBe("pending");
    expect(await statusOf(early.deliveryId)).toBe("failed");
    expect(await statusOf(late.deliveryId)).toBe("failed");
    const notice = await (await asAdmin(matching.headers.get("location") ?? "")).text();
    expect(notice).toContain("1 delivery queued for replay.");

    // Selected: a failed and a delivered one are replayed; a pending one and another clinic's are not.
    sent.length = 0;
    const selected = await asAdmin(`/console/destinations/${id}/replay`, [
      ["_csrf", csrf],
      ["scope", "selected"],
      ["delivery_id", early.deliveryId],
      ["delivery_id", delivered.deliveryId],
      ["delivery_id", pending.deliveryId],
      ["delivery_id", otherClinic.deliveryId],
    ]);
    expect(selected.status).toBe(303);
    expect(selected.headers.get("location")).toBe(`/console/destinations/${id}?replayed=2&enqueued=2`);
    expect(sent).toEqual(
      expect.arrayContaining([
        { change_id: early.changeId, destination_id: id },
        { change_id: delivered.changeId, destination_id: id },
      ]),
    );
    expect(sent).toHaveLength(2);
    expect(await statusOf(delivered.deliveryId)).toBe("pending");
    expect(await statusOf(otherClinic.deliveryId)).toBe("failed");
    expect(await statusOf(late.deliveryId)).toBe("failed");

    // Nothing ticked: a notice, nothing sent; another clinic's destination: 404.
    sent.length = 0;
    const none = await asAdmin(`/console/destinations/${id}/replay`, { _csrf: csrf, scope: "selected" });
    expect(none.headers.get("location")).toBe(`/console/destinations/${id}?refused=none_selected`);
    const refusedB = await asAdmin(`/console/destinations/${ofB}/replay`, {
      _csrf: csrf,
      scope: "selected",
      delivery_id: otherClinic.deliveryId,
    });
    expect(refusedB.status).toBe(404);
    expect(sent).toEqual([]);
    expect(await statusOf(otherClinic.deliveryId)).toBe("failed");

    const audit = await env.DB.prepare(
      `SELECT target_type, target_id, clinic_id, outcome, detail FROM audit
       WHERE actor = ?1 AND action = 'deliveries.replay' ORDER BY audit_id`,
    )
      .bind(identity)
      .all();
    expect(audit.results).toEqual([
      { target_type: "destination", target_id: id, clinic_id: a, outcome: "success", detail: '{"replayed":1}' },
      { target_type: "destination", target_id: id, clinic_id: a, outcome: "success", detail: '{"replayed":2}' },
      { target_type: "destination", target_id: id, clinic_id: a, outcome: "success", detail: '{"replayed":0}' },
      { target_type: "destination", target_id: ofB, clinic_id: null, outcome: "not_found", detail: null },
    ]);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { randomClientAddress } from "../helpers/admin";
import { adminFetchWith, fetchWith } from "../helpers/clinics";
import { setClock } from "../helpers/clock";
import { API_KEY, makeEvent } from "../helpers/events";
import { countingDatabase } from "../helpers/queue";

const KEY_A = "clinic-a-key-7Hq2Lx9Vd4Rm8Tp3Wz6Nc1Bf5";

/** A deployment of its own clinics (so counts of other tests never mix in), clinic `a` with its own key. */
function deployment() {
  const a = crypto.randomUUID();
  const b = crypto.randomUUID();
  const workerEnv = {
    ...env,
    NOVAMED_CLINIC_IDS: `${a},${b}`,
    NOVAMED_WEBHOOK_KEYS: JSON.stringify({ [a]: [KEY_A] }),
  } as Env;
  return { a, b, workerEnv };
}

function post(workerEnv: Env, init: { key?: string; body?: string; type?: string }) {
  return fetchWith(
    workerEnv,
    new Request("https://receiver.test/webhooks/novamed", {
      method: "POST",
      headers: {
        "content-type": init.type ?? "application/json",
        "x-api-key": init.key ?? API_KEY,
        "cf-connecting-ip": randomClientAddress(),
      },
      body: init.body ?? "{}",
    }),
  );
}

const event = (clinicId: string) => JSON.stringify(makeEvent("order:created", { clinic_id: clinicId }));

interface RejectionsAnswer {
  since: string;
  total: number;
  rejections: { clinic_id: string; reason: string; hour: string; count: number; last_at: string }[];
}

async function rejections(workerEnv: Env, query = ""): Promise<RejectionsAnswer> {
  const response = await adminFetchWith(workerEnv, `/rejections${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as RejectionsAnswer;
}

/** A D1 binding that records every use and fails it. */
function tattletaleDb() {
  const uses: string[] = [];
  const db = new Proxy({} as D1Database, {
    get(_target, property) {
      uses.push(String(property));
      throw new Error("D1 is down");
    },
  });
  return { db, uses };
}

describe("rejected webhook deliveries are counted (GET /admin/rejections)", () => {
  it("counts each refusal by clinic (or unknown), reason and hour, after the answer", async () => {
    // A year no other test writes in, so the default window (24 h) holds only this test's rows.
    setClock("2031-05-06T10:20:00.000Z");
    const { a, b, workerEnv } = deployment();
    const answers = [
      await post(workerEnv, { key: "a-wrong-key-of-enough-length-0123456789", body: event(a) }),
      await post(workerEnv, { body: "{not json" }),
      await post(workerEnv, { body: JSON.stringify({ event_type: "order:created" }) }),
      await post(workerEnv, { body: "x", type: "text/plain" }),
      await post(workerEnv, { body: JSON.stringify({ pad: "x".repeat(70 * 1024) }) }),
      await post(workerEnv, { body: event(crypto.randomUUID()) }),
      await post(workerEnv, { key: KEY_A, body: event(b) }),
      await post(workerEnv, { key: KEY_A, body: event(b) }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([401, 400, 400, 415, 413, 403, 403, 403]);
    setClock("2031-05-06T11:05:00.000Z");
    expect((await post(workerEnv, { body: "{not json" })).status).toBe(400);

    const answer = await rejections(workerEnv);
    expect(answer.since).toBe("2031-05-05T11:05:00.000Z");
    expect(answer.total).toBe(9);
    expect(answer.rejections).toEqual([
      {
        clinic_id: "unknown",
        reason: "invalid_json",
        hour: "2031-05-06T11:00:00.000Z",
        count: 1,
        last_at: "2031-05-06T11:05:00.000Z",
      },
      {
        clinic_id: a,
        reason: "clinic_key_mismatch",
        hour: "2031-05-06T10:00:00.000Z",
        count: 2,
        last_at: "2031-05-06T10:20:00.000Z",
      },
      ...[
        "invalid_envelope",
        "invalid_json",
        "payload_too_large",
        "unauthorized",
        "unknown_clinic",
        "unsupported_media_type",
      ].map((reason) => ({
        clinic_id: "unknown",
        reason,
        hour: "2031-05-06T10:00:00.000Z",
        count: 1,
        last_at: "2031-05-06T10:20:00.000Z",
      })),
    ]);
    // Counts only: nothing of a body or a key is stored.
    const stored = JSON.stringify(await env.DB.prepare("SELECT * FROM webhook_rejections").all());
    expect(stored).not.toContain(KEY_A);
    expect(stored).not.toContain("order:created");

    const later = await rejections(workerEnv, "?since=2031-05-06T11:00:00Z");
    expect(later.total).toBe(1);
  });

  it("lists at most 5,000 groups, newest first, says it left older ones out, and still counts them all", async () => {
    // 5,010 hours of one group each, far after every other test's rows (and deleted afterwards).
    await env.DB.prepare(
      `INSERT INTO webhook_rejections (clinic_id, reason, minute, count, last_at)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5009)
SELECT 'unknown', 'unauthorized', strftime('%Y-%m-%dT%H:%M', '2040-01-01T00:00:00Z', '+' || i || ' hours'), 2,
  strftime('%Y-%m-%dT%H:%M:%fZ', '2040-01-01T00:00:00Z', '+' || i || ' hours') FROM n`,
    ).run();
    try {
      const body = await (await adminFetchWith(env, "/rejections?since=2040-01-01T00:00:00Z")).json<{
        total: number;
        truncated?: boolean;
        rejections: { hour: string }[];
      }>();
      expect(body.total).toBe(10_020);
      expect(body.truncated).toBe(true);
      expect(body.rejections).toHaveLength(5000);
      expect(body.rejections[0]?.hour).toBe("2040-07-27T17:00:00.000Z");
      const recent = await (await adminFetchWith(env, "/rejections?since=2040-07-01T00:00:00Z")).json<object>();
      expect(recent).not.toHaveProperty("truncated");
    } finally {
      await env.DB.prepare(`DELETE FROM webhook_rejections WHERE minute >= '2040'`).run();
    }
  });

  it("answers 400 with issues for a since that is not a date-time", async () => {
    const response = await adminFetchWith(env, "/rejections?since=yesterday");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: "invalid_query", issues: [{ path: "since", message: "must be an ISO 8601 date-time" }] },
    });
  });

  it("does no D1 work on the accepted path, and a failing count never changes a refusal's answer", async () => {
    const { a, workerEnv } = deployment();
    const { db, uses } = tattletaleDb();
    const accepted = await post({ ...workerEnv, DB: db }, { body: event(a) });
    expect(accepted.status).toBe(200);
    expect(uses).toEqual([]);

    const warnings = vi.spyOn(console, "warn");
    const refused = await post({ ...workerEnv, DB: db }, { body: "{not json" });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: { code: "invalid_json", message: "The body is not valid JSON." } });
    expect(uses.length).toBeGreaterThan(0);
    expect(warnings.mock.calls.map(([line]) => JSON.parse(String(line)).message)).toContain("rejection not counted");
  });
});

describe("a flood of refused requests", () => {
  it("is counted in full, with far fewer D1 writes than requests (one batch in flight at a time)", async () => {
    const { workerEnv } = deployment();
    const unauthorizedCount = async () =>
      (await rejections(workerEnv)).rejections
        .filter((row) => row.reason === "unauthorized" && row.clinic_id === "unknown")
        .reduce((sum, row) => sum + row.count, 0);
    const before = await unauthorizedCount();
    const counting = countingDatabase(workerEnv.DB);
    const flooded = { ...workerEnv, DB: counting.db } as Env;
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => post(flooded, { key: "not-a-key-of-this-deployment-0123456789" })),
    );
    expect(answers.every((answer) => answer.status === 401)).toBe(true);
    expect((await unauthorizedCount()) - before).toBe(30);
    expect(counting.roundTrips()).toBeLessThan(30);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { secretKeyProblem } from "../../src/config/secret-rules";
import { adminFetchWith, fetchWith } from "../helpers/clinics";
import { API_KEY, makeEvent } from "../helpers/events";

const KEY_A = "clinic-a-key-7Hq2Lx9Vd4Rm8Tp3Wz6Nc1Bf5";
const NEXT_KEY_A = "clinic-a-next-key-3Jk8Pw2Xs7Gd5Hv9Qm4Ty";
const KEY_B = "clinic-b-key-5Rt1Yn6Kp8Wq3Zx7Lm2Dv9Hs";

function deployment(vars: (ids: { a: string; b: string }) => Record<string, string>) {
  const a = crypto.randomUUID();
  const b = crypto.randomUUID();
  const c = crypto.randomUUID();
  const workerEnv = { ...env, NOVAMED_CLINIC_IDS: [a, b, c].join(","), ...vars({ a, b }) } as Env;
  return { a, b, c, workerEnv };
}

function post(workerEnv: Env, clinicId: string, key: string) {
  return fetchWith(
    workerEnv,
    new Request("https://receiver.test/webhooks/novamed", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key, "cf-connecting-ip": "198.18.7.7" },
      body: JSON.stringify(makeEvent("order:created", { clinic_id: clinicId })),
    }),
  );
}

const codeOf = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

describe("one key per clinic (NOVAMED_WEBHOOK_KEYS)", () => {
  it("a clinic's keys open its own events only; another clinic's id is 403 clinic_key_mismatch, not enqueued", async () => {
    const send = vi.spyOn(env.EVENTS, "send");
    const { a, b, workerEnv } = deployment(({ a, b }) => ({
      NOVAMED_WEBHOOK_KEYS: JSON.stringify({ [a.toUpperCase()]: [KEY_A, NEXT_KEY_A], [b]: [KEY_B] }),
    }));
    expect((await post(workerEnv, a, KEY_A)).status).toBe(200);
    expect((await post(workerEnv, a, NEXT_KEY_A)).status).toBe(200);
    expect((await post(workerEnv, b, KEY_B)).status).toBe(200);
    expect(send).toHaveBeenCalledTimes(3);

    const mismatch = await post(workerEnv, b, KEY_A);
    expect(mismatch.status).toBe(403);
    expect(await codeOf(mismatch)).toBe("clinic_key_mismatch");
    expect(send).toHaveBeenCalledTimes(3);
    // The shared secret keeps opening every allowed clinic while both are set.
    expect((await post(workerEnv, a, API_KEY)).status).toBe(200);
    expect((await post(workerEnv, b, API_KEY)).status).toBe(200);
    expect(await codeOf(await post(workerEnv, crypto.randomUUID(), KEY_A))).toBe("unknown_clinic");
  });

  it("works without NOVAMED_WEBHOOK_SECRET; GET /admin/health names each clinic without a key", async () => {
    const { a, b, c, workerEnv } = deployment(({ a }) => ({
      NOVAMED_WEBHOOK_SECRET: "",
      NOVAMED_WEBHOOK_KEYS: JSON.stringify({ [a]: [KEY_A] }),
    }));
    expect((await post(workerEnv, a, KEY_A)).status).toBe(200);
    expect((await post(workerEnv, b, API_KEY)).status).toBe(401);
    const health = (await (await adminFetchWith(workerEnv, "/health")).json()) as {
      problems: { variable: string; problem: string }[];
    };
    const keyless = health.problems.filter((problem) => problem.variable === "NOVAMED_WEBHOOK_KEYS");
    expect(keyless.map((problem) => problem.problem)).toEqual([
      `has no key for clinic ${b}: no key opens it, so its events are refused`,
      `has no key for clinic ${c}: no key opens it, so its events are refused`,
    ]);
    expect(JSON.stringify(health)).not.toContain(KEY_A);
  });

  it("holds every per-clinic key to the key rule: a weak one answers 500 misconfigured, naming the variable only", async () => {
    for (const keys of [
      { k: ["short-key"] },
      { k: ["a".repeat(40)] },
      { k: ["dev-webhook-secret"] },
      "not json",
      { "not-a-uuid": [KEY_A] },
      { [crypto.randomUUID()]: [KEY_A] },
    ]) {
      const { a, workerEnv } = deployment(() => ({}));
      const value = typeof keys === "string" ? keys : JSON.stringify("k" in keys ? { [a]: keys.k } : keys);
      const response = await post({ ...workerEnv, NOVAMED_WEBHOOK_KEYS: value } as Env, a, API_KEY);
      expect(response.status).toBe(500);
      const body = await response.text();
      expect(body).toContain("NOVAMED_WEBHOOK_KEYS");
      expect(body).not.toContain("short-key");
    }
  });

  it("holds per-clinic keys to the one key rule (secretKeyProblem)", () => {
    expect(secretKeyProblem(KEY_A)).toBeNull();
    expect(secretKeyProblem("x".repeat(31))).toMatch(/32 characters/);
    expect(secretKeyProblem("ab".repeat(20))).toMatch(/8 distinct/);
    expect(secretKeyProblem("dev-webhook-secret")).toMatch(/published/);
  });
});

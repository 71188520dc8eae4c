import { env } from "cloudflare:workers";
import { HttpResponse, http } from "msw";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import type { destinationView } from "../../src/forwarding/destinations";
import { accessEnv } from "../helpers/access";
import { adminFetchWith, CLINIC_A, CLINIC_B } from "../helpers/clinics";
import { setClock, TEST_NOW } from "../helpers/clock";
import { useMockNetwork } from "../helpers/msw";
import { useStaffAccess } from "../helpers/staff-access";

const server = useMockNetwork();
const ENDPOINT = "https://ehr.clinic-a.example/hooks/novamed";

const staff = useStaffAccess(server);

const twoClinics = () => accessEnv({ NOVAMED_CLINIC_IDS: `${CLINIC_A},${CLINIC_B}` });
const json = (method: string, body?: unknown): RequestInit => ({
  method,
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});
const newId = () => `dst_${crypto.randomUUID().slice(0, 8)}`;

type DestinationBody = ReturnType<typeof destinationView> & { secret?: string };

async function create(workerEnv: Env, id: string, settings: Record<string, unknown> = {}) {
  const response = await adminFetchWith(
    workerEnv,
    `/destinations/${id}`,
    json("PUT", { clinic_id: CLINIC_A, url: ENDPOINT, events: ["*"], ...settings }),
  );
  expect(response.status).toBe(201);
  return (await response.json()) as DestinationBody & { secret: string };
}

/** Captures what the clinic's endpoint receives and answers `answer`. */
function endpoint(answer: () => Response = () => HttpResponse.text("ok")) {
  const received: { headers: Record<string, string>; body: string }[] = [];
  server.use(
    http.post(ENDPOINT, async ({ request }) => {
      received.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
      return answer();
    }),
  );
  return received;
}

describe("destinations: PUT/GET/DELETE /admin/destinations/:id", () => {
  it("the first PUT creates the destination and answers its secret once; later reads never show it", async () => {
    const workerEnv = twoClinics();
    const id = newId();
    const created = await create(workerEnv, id, { events: ["order.status_changed", "refill.status_changed"] });
    expect(created).toMatchObject({
      destination_id: id,
      clinic_id: CLINIC_A,
      url: ENDPOINT,
      events: ["order.status_changed", "refill.status_changed"],
      include_phi: false,
      enabled: true,
      state: "active",
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(created.secret.slice("whsec_".length))).toHaveLength(32);

    const read = (await (await adminFetchWith(workerEnv, `/destinations/${id}`)).json()) as DestinationBody;
    expect(read.secret).toBeUndefined();
    expect(JSON.stringify(read)).not.toContain(created.secret.slice(6));

    const updated = await adminFetchWith(
      workerEnv,
      `/destinations/${id}`,
      json("PUT", { clinic_id: CLINIC_A, url: ENDPOINT, events: ["*"], include_phi: true, enabled: false }),
    );
    expect(updated.status).toBe(200);
    const body = (await updated.json()) as DestinationBody;
    expect(body).toMatchObject({ events: ["*"], include_phi: true, enabled: false, state: "disabled" });
    expect(body.secret).toBeUndefined();

    const list = (await (await adminFetchWith(workerEnv, "/destinations")).json()) as {
      destinations: DestinationBody[];
    };
    expect(list.destinations.map((destination) => destination.destination_id)).toContain(id);
    expect(JSON.stringify(list)).not.toContain(created.secret.slice(6));

    expect((await adminFetchWith(workerEnv, `/destinations/${id}`, json("DELETE"))).status).toBe(204);
    expect((await adminFetchWith(workerEnv, `/destinations/${id}`)).status).toBe(404);
    expect((await adminFetchWith(workerEnv, `/destinations/${id}`, json("DELETE"))).status).toBe(404);

    const audit = await env.DB.prepare(
      `SELECT action, outcome, clinic_id FROM audit WHERE target_type = 'destination' AND target_id = ?1 ORDER BY audit_id`,
    )
      .bind(id)
      .all();
    expect(audit.results).toEqual([
      { action: "destination.upsert", outcome: "success", clinic_id: CLINIC_A },
      { action: "destination.read", outcome: "success", clinic_id: CLINIC_A },
      { action: "destination.upsert", outcome: "success", clinic_id: CLINIC_A },
      { action: "destination.delete", outcome: "success", clinic_id: CLINIC_A },
      { action: "destination.read", outcome: "not_found", clinic_id: null },
      { action: "destination.delete", outcome: "not_found", clinic_id: null },
    ]);
  });

  it("refuses bad settings field by field: http outside this machine, unknown change types, no events", async () => {
    const workerEnv = twoClinics();
    const response = await adminFetchWith(
      workerEnv,
      `/destinations/${newId()}`,
      json("PUT", { clinic_id: CLINIC_A, url: "http://ehr.example/hook", events: [], include_phi: "yes" }),
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("invalid_destination");
    expect(body.error.issues.map((issue) => issue.path).sort()).toEqual(["events", "include_phi", "url"]);

    for (const url of ["ftp://ehr.example/x", "https://user:pw@ehr.example/x", "not a url"]) {
      const refused = await adminFetchWith(
        workerEnv,
        `/destinations/${newId()}`,
        json("PUT", { clinic_id: CLINIC_A, url, events: ["*"] }),
      );
      expect(refused.status, url).toBe(400);
    }
    const unknownType = await adminFetchWith(
      workerEnv,
      `/destinations/${newId()}`,
      json("PUT", { clinic_id: CLINIC_A, url: ENDPOINT, events: ["order.created"] }),
    );
    expect(unknownType.status).toBe(400);
    const badId = await adminFetchWith(
      workerEnv,
      "/destinations/has%20space",
      json("PUT", { clinic_id: CLINIC_A, url: ENDPOINT, events: ["*"] }),
    );
    expect(badId.status).toBe(400);

    // http is allowed to this machine only (a local receiver under development).
    for (const url of ["http://localhost:8788/hook", "http://127.0.0.1:9000/hook"]) {
      const local = await adminFetchWith(
        workerEnv,
        `/destinations/${newId()}`,
        json("PUT", { clinic_id: CLINIC_A, url, events: ["*"] }),
      );
      expect(local.status, url).toBe(201);
    }
  });

  it("a clinic outside NOVAMED_CLINIC_IDS answers 404; a destination never moves to another clinic", async () => {
    const workerEnv = twoClinics();
    const outside = await adminFetchWith(
      workerEnv,
      `/destinations/${newId()}`,
      json("PUT", { clinic_id: crypto.randomUUID(), url: ENDPOINT, events: ["*"] }),
    );
    expect(outside.status).toBe(404);
    const id = newId();
    await create(workerEnv, id);
    const moved = await adminFetchWith(
      workerEnv,
      `/destinations/${id}`,
      json("PUT", { clinic_id: CLINIC_B, url: ENDPOINT, events: ["*"] }),
    );
    expect(moved.status).toBe(400);
    const body = (await moved.json()) as { error: { issues: { path: string }[] } };
    expect(body.error.issues.map((issue) => issue.path)).toEqual(["clinic_id"]);
  });
});

describe("signing: POST /admin/destinations/:id/test and /rotate-secret", () => {
  it("the ping carries Standard Webhooks headers that the standardwebhooks package verifies", async () => {
    const workerEnv = twoClinics();
    const id = newId();
    const { secret } = await create(workerEnv, id);
    const received = endpoint();
    const response = await adminFetchWith(workerEnv, `/destinations/${id}/test`, json("POST"));
    expect(response.status).toBe(200);
    const result = (await response.json()) as { delivered: boolean; http_status: number; webhook_id: string };
    expect(result).toMatchObject({ delivered: true, http_status: 200, error_class: null, response_excerpt: "ok" });
    expect(received).toHaveLength(1);
    const [request] = received;
    if (!request) throw new Error("no request");
    expect(request.headers["webhook-id"]).toBe(result.webhook_id);
    expect(request.headers["webhook-timestamp"]).toBe(String(Math.floor(TEST_NOW / 1000)));
    const payload = new Webhook(secret).verify(request.body, request.headers) as Record<string, unknown>;
    expect(payload).toMatchObject({ type: "ping", id: result.webhook_id, clinic_id: CLINIC_A });
    // Another secret does not verify it.
    const stranger = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
    expect(() => new Webhook(stranger).verify(request.body, request.headers)).toThrow();
  });

  it("after a rotation both secrets verify for 24 h, then only the new one", async () => {
    const workerEnv = twoClinics();
    const id = newId();
    const first = await create(workerEnv, id);
    const rotated = await adminFetchWith(workerEnv, `/destinations/${id}/rotate-secret`, json("POST"));
    expect(rotated.status).toBe(200);
    const second = (await rotated.json()) as DestinationBody & { secret: string };
    expect(second.secret).not.toBe(first.secret);
    expect(second.previous_secret_valid_until).toBe(new Date(TEST_NOW + 24 * 3_600_000).toISOString());

    const received = endpoint();
    await adminFetchWith(workerEnv, `/destinations/${id}/test`, json("POST"));
    const during = received.at(-1);
    if (!during) throw new Error("no request");
    expect(during.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(first.secret).verify(during.body, during.headers)).not.toThrow();
    expect(() => new Webhook(second.secret).verify(during.body, during.headers)).not.toThrow();

    setClock(TEST_NOW + 24 * 3_600_000 + 1_000);
    await adminFetchWith(workerEnv, `/destinations/${id}/test`, json("POST"));
    const after = received.at(-1);
    if (!after) throw new Error("no request");
    expect(after.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(() => new Webhook(first.secret).verify(after.body, after.headers)).toThrow();
    expect(() => new Webhook(second.secret).verify(after.body, after.headers)).not.toThrow();
    const read = (await (await adminFetchWith(workerEnv, `/destinations/${id}`)).json()) as DestinationBody;
    expect(read.previous_secret_valid_until).toBeNull();
  });

  it("a redirect is not followed and the answer is kept to its first 256 bytes", async () => {
    const workerEnv = twoClinics();
    const id = newId();
    await create(workerEnv, id);
    endpoint(() => new HttpResponse(null, { status: 302, headers: { location: "https://elsewhere.example/" } }));
    const redirected = (await (await adminFetchWith(workerEnv, `/destinations/${id}/test`, json("POST"))).json()) as {
      delivered: boolean;
      http_status: number;
      error_class: string;
    };
    expect(redirected).toMatchObject({ delivered: false, http_status: 302, error_class: "redirect" });

    endpoint(() => HttpResponse.text("x".repeat(5_000), { status: 500 }));
    const failed = (await (await adminFetchWith(workerEnv, `/destinations/${id}/test`, json("POST"))).json()) as {
      response_excerpt: string;
      error_class: string;
    };
    expect(failed.error_class).toBe("server_error");
    expect(failed.response_excerpt).toHaveLength(256);
  });
});

describe("destinations are admin-only and scoped to the identity's clinics", () => {
  it("an admin of clinic A never sees, changes or pings clinic B's destination; an operator gets 403", async () => {
    const workerEnv = twoClinics();
    const ofB = newId();
    await adminFetchWith(
      workerEnv,
      `/destinations/${ofB}`,
      json("PUT", { clinic_id: CLINIC_B, url: "https://ehr.clinic-b.example/hook", events: ["*"] }),
    );
    const adminOfA = await staff.member(workerEnv, "admin", [CLINIC_A]);
    const ofA = newId();
    const created = await staff.as(
      workerEnv,
      adminOfA,
      `/destinations/${ofA}`,
      json("PUT", { clinic_id: CLINIC_A, url: ENDPOINT, events: ["*"] }),
    );
    expect(created.status).toBe(201);

    const list = await (await staff.as(workerEnv, adminOfA, "/destinations")).text();
    expect(list).toContain(ofA);
    expect(list).not.toContain(ofB);
    expect(list).not.toContain("clinic-b");
    for (const [path, init] of [
      [`/destinations/${ofB}`, json("GET")],
      [`/destinations/${ofB}`, json("DELETE")],
      [`/destinations/${ofB}/test`, json("POST")],
      [`/destinations/${ofB}/rotate-secret`, json("POST")],
      [`/destinations/${ofB}`, json("PUT", { clinic_id: CLINIC_A, url: ENDPOINT, events: ["*"] })],
      [`/destinations/${newId()}`, json("PUT", { clinic_id: CLINIC_B, url: ENDPOINT, events: ["*"] })],
    ] as const) {
      const response = await staff.as(workerEnv, adminOfA, path, init);
      expect(response.status, `${init.method} ${path}`).toBe(404);
      expect(await response.text()).not.toContain("clinic-b");
    }
    // Clinic B's destination is untouched.
    const ofBRead = (await (await adminFetchWith(workerEnv, `/destinations/${ofB}`)).json()) as DestinationBody;
    expect(ofBRead.clinic_id).toBe(CLINIC_B);

    const operator = await staff.member(workerEnv, "operator", "all");
    expect((await staff.as(workerEnv, operator, "/destinations")).status).toBe(403);
    expect((await staff.as(workerEnv, operator, `/destinations/${ofA}/test`, json("POST"))).status).toBe(403);
  });
});

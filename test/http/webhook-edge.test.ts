import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { MAX_WEBHOOK_BODY_BYTES } from "../../src/http/routes/webhooks";
import medicationRequestApproved from "../fixtures/medication-request-approved.json";
import orderShipped from "../fixtures/order-shipped.json";
import { fetchWith } from "../helpers/clinics";
import { API_KEY, CLINIC_ID, makeEvent, OTHER_CLINIC_ID, PREVIOUS_API_KEY, postWebhook } from "../helpers/events";

function spyOnQueue() {
  return vi.spyOn(env.EVENTS, "send");
}

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(/\S/);
  return body;
}

describe("POST /webhooks/novamed: accepted", () => {
  it.each([
    ["order:shipped", orderShipped],
    ["medication_request:approved", medicationRequestApproved],
  ])("accepts the guide's %s example verbatim and enqueues it", async (_type, example) => {
    const send = spyOnQueue();
    const response = await postWebhook(example);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true, event_id: example.event_id });
    expect(send).toHaveBeenCalledTimes(1);
    const [message] = send.mock.calls[0]!;
    expect(message).toMatchObject({ envelope: example });
    expect((message as { request_id: string }).request_id).toBe(response.headers.get("x-request-id"));
    expect(Date.parse((message as { received_at: string }).received_at)).not.toBeNaN();
  });

  it("accepts an unknown event_type and a data object that no schema knows", async () => {
    const send = spyOnQueue();
    const event = makeEvent("invoice:paid", { data: { anything: [1, 2, 3] } });
    const response = await postWebhook(event);
    expect(response.status).toBe(200);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("keeps unknown extra envelope fields", async () => {
    const send = spyOnQueue();
    const event = { ...makeEvent("order:created"), api_version: "2025-01" };
    expect((await postWebhook(event)).status).toBe(200);
    expect(send.mock.calls[0]![0]).toMatchObject({ envelope: { api_version: "2025-01" } });
  });

  it("accepts a timestamp with a numeric offset and JSON with a charset", async () => {
    const response = await postWebhook(makeEvent("order:created", { timestamp: "2025-01-15T10:30:00+05:30" }), {
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(response.status).toBe(200);
  });

  it("accepts every key during a rotation, and the header name in any case", async () => {
    expect((await postWebhook(makeEvent("order:created"), { headers: { "x-api-key": PREVIOUS_API_KEY } })).status).toBe(
      200,
    );
    const response = await exports.default.fetch("https://receiver.test/webhooks/novamed", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-KEY": API_KEY },
      body: JSON.stringify(makeEvent("order:created")),
    });
    expect(response.status).toBe(200);
  });

  it("accepts events for every configured clinic", async () => {
    const workerEnv = { ...env, NOVAMED_CLINIC_IDS: `${CLINIC_ID},${OTHER_CLINIC_ID}` } as Env;
    const post = (clinicId: string) =>
      fetchWith(
        workerEnv,
        new Request("https://receiver.test/webhooks/novamed", {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": API_KEY },
          body: JSON.stringify(makeEvent("order:created", { clinic_id: clinicId })),
        }),
      );
    expect((await post(OTHER_CLINIC_ID)).status).toBe(200);
    expect((await post(CLINIC_ID.toUpperCase())).status).toBe(200);
    // The suite's own Worker serves one clinic: the other is refused.
    expect((await postWebhook(makeEvent("order:created", { clinic_id: OTHER_CLINIC_ID }))).status).toBe(403);
  });
});

describe("POST /webhooks/novamed: authentication", () => {
  it.each([
    ["missing", undefined],
    ["wrong", "not-the-key"],
    ["a prefix of the key", API_KEY.slice(0, -1)],
    ["the key plus one character", `${API_KEY}x`],
    ["empty", ""],
    ["both keys joined", `${API_KEY},${PREVIOUS_API_KEY}`],
  ])("401 when the key is %s, and nothing is enqueued", async (_case, key) => {
    const send = spyOnQueue();
    const headers: Record<string, string> = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 200)}` };
    const init = {
      method: "POST",
      headers: { "content-type": "application/json", ...headers } as Record<string, string>,
      body: JSON.stringify(makeEvent("order:created")),
    };
    if (key !== undefined) init.headers["x-api-key"] = key;
    const response = await exports.default.fetch("https://receiver.test/webhooks/novamed", init);
    await expectError(response, 401, "unauthorized");
    expect(send).not.toHaveBeenCalled();
  });

  it("429 with Retry-After after repeated failures from one client, then even for the valid key", async () => {
    // The limiter counts 10 failures per client in fixed one-minute windows of real time (it is not
    // ours to clock). 21 attempts put at least 11 into one window even when the test straddles a
    // window boundary, so a 429 must come, and only after 10 plain 401s in its window.
    const client = { "cf-connecting-ip": "203.0.113.77" };
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let attempt = 0; attempt < 21 && !limited; attempt += 1) {
      const response = await postWebhook(makeEvent("order:created"), { headers: { ...client, "x-api-key": "guess" } });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
      else await response.arrayBuffer();
    }
    expect(limited, `statuses: ${statuses.join(",")}`).toBeDefined();
    expect(statuses.length).toBeGreaterThanOrEqual(11);
    expect(statuses.slice(0, -1).every((status) => status === 401)).toBe(true);
    await expectError(limited!, 429, "rate_limited");
    expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThan(0);

    // No guessing oracle: the refused client learns nothing from the right key (test/http/auth-lockout.test.ts).
    const refused = await postWebhook(makeEvent("order:created"), { headers: client });
    await expectError(refused, 429, "rate_limited");
    const elsewhere = await postWebhook(makeEvent("order:created"), {
      headers: { "cf-connecting-ip": "203.0.113.78" },
    });
    expect(elsewhere.status).toBe(200);
  });

  it("never consults the limiter for a valid key, so NovaMed's own traffic cannot be throttled", async () => {
    const limit = vi.spyOn(env.AUTH_FAILURE_LIMITER, "limit");
    for (let attempt = 0; attempt < 20; attempt += 1) {
      expect(
        (await postWebhook(makeEvent("order:created"), { headers: { "cf-connecting-ip": "192.0.2.10" } })).status,
      ).toBe(200);
    }
    expect(limit).not.toHaveBeenCalled();
  });
});

describe("POST /webhooks/novamed: rejected input", () => {
  it("403 for a clinic this receiver does not serve", async () => {
    const send = spyOnQueue();
    const response = await postWebhook(
      makeEvent("order:created", { clinic_id: "11111111-2222-4333-8444-555555555555" }),
    );
    await expectError(response, 403, "unknown_clinic");
    expect(send).not.toHaveBeenCalled();
  });

  it.each(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""])(
    "415 for content type %j",
    async (contentType) => {
      const response = await postWebhook(makeEvent("order:created"), { headers: { "content-type": contentType } });
      await expectError(response, 415, "unsupported_media_type");
    },
  );

  it.each(["{", "not json", '{"event_id": }', ""])("400 invalid_json for %j", async (raw) => {
    const response = await postWebhook(undefined, { raw });
    await expectError(response, 400, "invalid_json");
  });

  it.each([
    ["event_id missing", { event_id: undefined }, "event_id"],
    ["event_id empty", { event_id: "" }, "event_id"],
    ["event_id too long", { event_id: "e".repeat(201) }, "event_id"],
    ["event_type not entity:action", { event_type: "shipped" }, "event_type"],
    ["timestamp without offset", { timestamp: "2025-01-15T10:30:00" }, "timestamp"],
    ["timestamp not a date", { timestamp: "yesterday" }, "timestamp"],
    ["clinic_id not a UUID", { clinic_id: "clinic-1" }, "clinic_id"],
    ["data an array", { data: [] }, "data"],
    ["data missing", { data: undefined }, "data"],
  ])("400 invalid_envelope when %s, naming the path without echoing the value", async (_case, change, path) => {
    const send = spyOnQueue();
    const event = { ...makeEvent("order:created"), ...change };
    const response = await postWebhook(event);
    const body = (await expectError(response, 400, "invalid_envelope")) as unknown as {
      error: { issues: { path: string; message: string }[] };
    };
    expect(body.error.issues.map((issue) => issue.path)).toContain(path);
    const text = JSON.stringify(body);
    for (const value of Object.values(change)) {
      if (typeof value === "string" && value.length > 0) expect(text).not.toContain(value);
    }
    expect(send).not.toHaveBeenCalled();
  });

  it("400 invalid_envelope for a JSON body that is not an object", async () => {
    await expectError(await postWebhook([1, 2]), 400, "invalid_envelope");
    await expectError(await postWebhook("text"), 400, "invalid_envelope");
  });
});

describe("POST /webhooks/novamed: size cap", () => {
  const CAP = MAX_WEBHOOK_BODY_BYTES;

  /** A valid event whose JSON is exactly `size` bytes. */
  function eventOfSize(size: number): string {
    const event = makeEvent("order:created", { data: { padding: "" } });
    const base = JSON.stringify(event).length;
    event.data.padding = "x".repeat(size - base);
    const json = JSON.stringify(event);
    expect(json.length).toBe(size);
    return json;
  }

  function chunked(json: string, chunkSize = 4096): ReadableStream<Uint8Array> {
    const bytes = new TextEncoder().encode(json);
    let offset = 0;
    return new ReadableStream({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(offset, offset + chunkSize));
        offset += chunkSize;
      },
    });
  }

  it("413 for a declared Content-Length over 64 KiB", async () => {
    const send = spyOnQueue();
    const response = await postWebhook(undefined, { raw: eventOfSize(CAP + 1) });
    await expectError(response, 413, "payload_too_large");
    expect(send).not.toHaveBeenCalled();
  });

  it("accepts a body of exactly 64 KiB", async () => {
    expect((await postWebhook(undefined, { raw: eventOfSize(CAP) })).status).toBe(200);
  });

  it("413 for a chunked body over the cap with no Content-Length, and stops reading", async () => {
    const send = spyOnQueue();
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        controller.enqueue(new Uint8Array(8192).fill(0x20));
        if (pulls > 10_000) controller.close();
      },
    });
    const response = await postWebhook(undefined, { raw: endless });
    await expectError(response, 413, "payload_too_large");
    expect(send).not.toHaveBeenCalled();
    expect(pulls).toBeLessThan(100);
  });

  it("accepts a chunked body of exactly 64 KiB", async () => {
    const response = await postWebhook(undefined, { raw: chunked(eventOfSize(CAP)) });
    expect(response.status).toBe(200);
  });
});

describe("POST /webhooks/novamed: queue failures", () => {
  it("503 with Retry-After when the send throws, then 200 for the same delivery after recovery", async () => {
    const event = makeEvent("order:shipped");
    const send = spyOnQueue().mockRejectedValueOnce(new Error("queue unavailable"));
    const failed = await postWebhook(event);
    await expectError(failed, 503, "enqueue_failed");
    expect(Number(failed.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(send).toHaveBeenCalledTimes(1);

    const retried = await postWebhook(event);
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ received: true, event_id: event.event_id });
    expect(send).toHaveBeenCalledTimes(2);
  });
});

describe("other routes", () => {
  it("GET /health", async () => {
    const response = await exports.default.fetch("https://receiver.test/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("404 in the error shape for an unknown path", async () => {
    const response = await exports.default.fetch("https://receiver.test/nope");
    await expectError(response, 404, "not_found");
  });

  it("405 in the error shape for a wrong method, with Allow", async () => {
    const response = await exports.default.fetch("https://receiver.test/webhooks/novamed");
    await expectError(response, 405, "method_not_allowed");
    expect(response.headers.get("allow")).toContain("POST");
  });

  it("a request id and secure headers on every response", async () => {
    for (const url of ["https://receiver.test/health", "https://receiver.test/nope"]) {
      const response = await exports.default.fetch(url);
      expect(response.headers.get("x-request-id")).toMatch(/\S/);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
    const posted = await postWebhook(makeEvent("order:created"), { headers: { "x-api-key": "bad" } });
    expect(posted.headers.get("x-request-id")).toMatch(/\S/);
  });
});

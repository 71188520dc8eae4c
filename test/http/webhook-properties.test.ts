import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { API_KEY, CLINIC_ID, makeEvent } from "../helpers/events";

/** Every status the edge contract allows when the queue is healthy. */
const CONTRACT_STATUSES = new Set([200, 400, 401, 403, 413, 415, 429]);

const contentTypes = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "application/cloudevents+json",
  "text/plain",
  "application/xml",
  "",
  "application/x-www-form-urlencoded",
);

const keys = fc.oneof(fc.constant(API_KEY), fc.constant(undefined), fc.string({ maxLength: 40 }));

const validEnvelope = fc
  .record({
    type: fc.constantFrom("order:shipped", "refill:denied", "something:new", "bad type", ""),
    clinic: fc.constantFrom(CLINIC_ID, "11111111-2222-4333-8444-555555555555", "nope"),
    timestamp: fc.constantFrom("2026-01-15T15:00:00.000Z", "2025-01-15T10:30:00+01:00", "2025-01-15", "x"),
    data: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
  })
  .map(({ type, clinic, timestamp, data }) =>
    JSON.stringify({ ...makeEvent("order:created"), event_type: type, clinic_id: clinic, timestamp, data }),
  );

const bodies = fc.oneof(
  validEnvelope,
  fc.json(),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => new TextDecoder().decode(bytes)),
);

describe("the edge under random input", () => {
  it("answers only contract statuses, and enqueues if and only if it answers 200", async () => {
    await fc.assert(
      fc.asyncProperty(
        bodies,
        contentTypes,
        keys,
        fc.integer({ min: 1, max: 250 }),
        async (body, contentType, key, client) => {
          const send = vi.spyOn(env.EVENTS, "send");
          try {
            const headers: Record<string, string> = { "cf-connecting-ip": `192.0.2.${client}` };
            if (contentType) headers["content-type"] = contentType;
            if (key !== undefined) headers["x-api-key"] = key;
            const response = await exports.default.fetch("https://receiver.test/webhooks/novamed", {
              method: "POST",
              headers,
              body,
            });
            const payload = (await response.json()) as Record<string, unknown>;
            expect(CONTRACT_STATUSES.has(response.status)).toBe(true);
            expect(send.mock.calls.length).toBe(response.status === 200 ? 1 : 0);
            if (response.status !== 200) expect(payload).toHaveProperty("error.code");
          } finally {
            send.mockRestore();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

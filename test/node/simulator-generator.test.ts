import { describe, expect, it } from "vitest";
import { UsageError } from "../../tools/cli-kit.ts";
import { API_KEY_FLAG_WARNING, parseSimulatorArgs } from "../../tools/simulator/args.ts";
import { CARRIERS } from "../../tools/simulator/catalog.ts";
import { main } from "../../tools/simulator/cli.ts";
import { buildPlan, lifecycleOutcomes, type PlannedSend, type PlanOptions } from "../../tools/simulator/generator.ts";
import { type Envelope, EVENT_TYPES } from "../../tools/simulator/lifecycles.ts";
import { createRandom } from "../../tools/simulator/prng.ts";
import { capture } from "./fake-server.ts";

const CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const START = Date.parse("2025-01-15T09:00:00.000Z");

function plan(overrides: Partial<PlanOptions> = {}) {
  return buildPlan({
    seed: "test",
    clinicId: CLINIC_ID,
    startTime: START,
    count: 500,
    duplicateRate: 0,
    outOfOrderRate: 0,
    ...overrides,
  });
}

/** Each entity's lifecycle must be a prefix of one of these paths. */
const PATHS: Record<string, string[][]> = {
  order: [
    ["created", "processing", "shipped", "delivered"],
    ["created", "processing", "cancelled"],
    ["created", "cancelled"],
  ],
  medication_request: [
    ["created", "approved", "filled"],
    ["created", "approved", "cancelled"],
    ["created", "cancelled"],
  ],
  refill: [
    ["requested", "approved"],
    ["requested", "denied"],
  ],
};

function byEntity(sends: readonly PlannedSend[]): Map<string, PlannedSend[]> {
  const map = new Map<string, PlannedSend[]>();
  for (const send of sends) map.set(send.entity, [...(map.get(send.entity) ?? []), send]);
  return map;
}

describe("the simulator's event generator", () => {
  it("gives the same stream for the same seed, byte for byte, and another for another seed", () => {
    const options = { count: 300, duplicateRate: 0.1, outOfOrderRate: 0.3 };
    const first = plan({ ...options, seed: "42" }).sends.map((send) => send.body);
    const again = plan({ ...options, seed: "42" }).sends.map((send) => send.body);
    const other = plan({ ...options, seed: "43" }).sends.map((send) => send.body);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    expect(other.filter((body) => first.includes(body))).toEqual([]);
  });

  it("makes exactly --count deliveries", () => {
    for (const count of [1, 2, 7, 50, 333]) expect(plan({ count, duplicateRate: 0.3 }).sends).toHaveLength(count);
  });

  it("wraps every event in a valid NovaMed envelope", () => {
    for (const { envelope, body } of plan({ count: 2000 }).sends) {
      expect(JSON.parse(body)).toEqual(envelope);
      expect(Object.keys(envelope).sort()).toEqual(["clinic_id", "data", "event_id", "event_type", "timestamp"]);
      expect(envelope.event_id).toMatch(/^evt_[a-z0-9]+$/);
      expect(envelope.event_id.length).toBeLessThanOrEqual(200);
      expect(envelope.event_type).toMatch(/^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$/);
      expect(EVENT_TYPES).toContain(envelope.event_type);
      expect(envelope.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(new Date(envelope.timestamp).toISOString()).toBe(envelope.timestamp);
      expect(envelope.clinic_id).toMatch(UUID);
      expect(envelope.clinic_id).toBe(CLINIC_ID);
      expect(typeof envelope.data).toBe("object");
    }
  });

  it("produces all twelve event types in a long run, starting at --start-time", () => {
    const sends = plan({ count: 2000 }).sends;
    expect(new Set(sends.map((send) => send.envelope.event_type))).toEqual(new Set(EVENT_TYPES));
    expect(sends[0]!.envelope.timestamp).toBe("2025-01-15T09:00:00.000Z");
  });

  it("keeps every in-order lifecycle on its progression, with increasing timestamps", () => {
    const sends = plan({ count: 2000 }).sends;
    const times = sends.map((send) => Date.parse(send.envelope.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const [entity, events] of byEntity(sends)) {
      const [kind] = entity.split(":");
      const actions = events.map((send) => send.envelope.event_type.split(":")[1]!);
      expect(events.every((send) => send.envelope.event_type.startsWith(`${kind}:`))).toBe(true);
      const valid = PATHS[kind!]!.some((path) => actions.every((action, i) => path[i] === action));
      expect(valid, `${entity}: ${actions.join(" → ")}`).toBe(true);
      const stamps = events.map((send) => Date.parse(send.envelope.timestamp));
      for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    }
  });

  it("links entities consistently: orders follow an approved request of the same patient, addresses stay with the patient", () => {
    const events = plan({ count: 2000 }).sends.map((send) => send.envelope);
    const approved = new Map<string, Envelope>();
    const addresses = new Map<string, string>();
    for (const event of events) {
      const data = event.data as Record<string, unknown>;
      if (event.event_type === "medication_request:approved") approved.set(String(data.medication_request_id), event);
      if (event.event_type === "order:created") {
        const request = approved.get(String(data.medication_request_id));
        expect(request, "order:created after its request's approval").toBeDefined();
        expect(request!.data.patient_id).toBe(data.patient_id);
      }
      if (event.event_type === "order:shipped") {
        const address = JSON.stringify(data.shipping_address);
        expect(addresses.get(String(data.patient_id)) ?? address).toBe(address);
        addresses.set(String(data.patient_id), address);
      }
    }
  });

  it("shapes payloads like the guide's examples", () => {
    const events = plan({ count: 2000 }).sends.map((send) => send.envelope);
    const ofType = (type: string) => events.filter((event) => event.event_type === type);

    for (const { data } of ofType("order:shipped")) {
      const keys = Object.keys(data).filter((key) => key !== "refill_id");
      expect(keys.sort()).toEqual(
        [
          "carrier",
          "estimated_delivery",
          "medication_request_id",
          "order_id",
          "patient_id",
          "shipping_address",
          "tracking_number",
        ].sort(),
      );
      expect(Object.keys(data.shipping_address as object).sort()).toEqual(["city", "line1", "state", "zip"]);
      expect(CARRIERS).toContain(data.carrier);
      const tracking = String(data.tracking_number);
      const shape = { UPS: /^1Z[0-9A-Z]{16}$/, FedEx: /^\d{12}$/, USPS: /^9400\d{18}$/, DHL: /^\d{10}$/ }[
        data.carrier as (typeof CARRIERS)[number]
      ];
      expect(tracking).toMatch(shape);
      expect(data.estimated_delivery).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    for (const { data, timestamp } of ofType("medication_request:approved")) {
      expect(Object.keys(data).sort()).toEqual(
        [
          "approved_at",
          "medication_name",
          "medication_request_id",
          "patient_id",
          "practitioner_id",
          "quantity",
          "refills",
        ].sort(),
      );
      expect(data.approved_at).toBe(timestamp);
    }
    for (const { data } of [
      ...ofType("order:cancelled"),
      ...ofType("refill:denied"),
      ...ofType("medication_request:cancelled"),
    ]) {
      expect(typeof data.reason).toBe("string");
    }
    for (const type of ["refill:requested", "refill:approved", "refill:denied"]) {
      expect(ofType(type).length).toBeGreaterThan(0);
      for (const { data } of ofType(type)) {
        expect(data).toEqual(
          expect.objectContaining({
            refill_id: expect.any(String),
            medication_request_id: expect.any(String),
            patient_id: expect.any(String),
          }),
        );
      }
    }
  });

  it("re-sends about --duplicate-rate of deliveries, each an earlier event with the same id and body", () => {
    const { sends, duplicates } = plan({ count: 1000, duplicateRate: 0.2 });
    const resends = sends.filter((send) => send.duplicateOf !== null);
    expect(resends.length).toBe(duplicates);
    expect(resends.length).toBeGreaterThanOrEqual(170);
    expect(resends.length).toBeLessThanOrEqual(230);
    for (const resend of resends) {
      const original = sends[resend.duplicateOf!]!;
      expect(original.index).toBeLessThan(resend.index);
      expect(original.duplicateOf).toBeNull();
      expect(resend.envelope.event_id).toBe(original.envelope.event_id);
      expect(resend.body).toBe(original.body);
    }
    expect(new Set(sends.map((send) => send.envelope.event_id)).size).toBe(1000 - resends.length);
  });

  it("shuffles --out-of-order-rate of the lifecycles, and only those", () => {
    const inOrder = (events: PlannedSend[]) =>
      events.every((send, i) => i === 0 || send.envelope.timestamp >= events[i - 1]!.envelope.timestamp);
    const all = plan({ count: 600, outOfOrderRate: 1 });
    const multi = [...byEntity(all.sends)].filter(([, events]) => events.length > 1);
    expect(all.shuffledLifecycles).toBe(multi.length);
    for (const [, events] of multi) expect(inOrder(events)).toBe(false);

    const none = plan({ count: 600, outOfOrderRate: 0 });
    for (const [, events] of byEntity(none.sends)) expect(inOrder(events)).toBe(true);

    const some = plan({ count: 600, outOfOrderRate: 0.3 });
    const ratio = some.shuffledLifecycles / multi.length;
    expect(ratio).toBeGreaterThan(0.15);
    expect(ratio).toBeLessThan(0.45);
  });

  it("keeps the events when only a rate changes", () => {
    const ids = (p: ReturnType<typeof plan>) => new Set(p.sends.map((send) => send.envelope.event_id));
    const a = ids(plan({ count: 200, outOfOrderRate: 0 }));
    const b = ids(plan({ count: 200, outOfOrderRate: 0.5 }));
    expect(b).toEqual(a);
  });
});

describe("the stream the bench shares", () => {
  it("spreads the stories over the given patients only, leaving the default stream unchanged", () => {
    const patientIds = ["pat_bench_0", "pat_bench_1", "pat_bench_2"];
    const withPatients = plan({ count: 200, patientIds });
    const seen = new Set(withPatients.sends.map((send) => String(send.envelope.data.patient_id)));
    expect([...seen].sort()).toEqual(patientIds);
    const defaults = plan({ count: 200 }).sends.map((send) => String(send.envelope.data.patient_id));
    expect(defaults.some((id) => patientIds.includes(id))).toBe(false);
    expect(plan({ count: 200, patientIds: undefined }).sends.map((send) => send.body)).toEqual(
      plan({ count: 200 }).sends.map((send) => send.body),
    );
  });

  it("names each lifecycle's final status after its latest event, not its last-sent one", () => {
    const shuffled = plan({ count: 400, outOfOrderRate: 1, duplicateRate: 0.1 });
    const outcomes = lifecycleOutcomes(shuffled);
    const entities = byEntity(shuffled.sends.filter((send) => send.duplicateOf === null));
    expect(outcomes.map((outcome) => `${outcome.kind}:${outcome.id}`).sort()).toEqual([...entities.keys()].sort());
    expect(outcomes.filter((outcome) => outcome.outOfOrder)).toHaveLength(shuffled.shuffledLifecycles);

    let sentLastIsNotFinal = 0;
    for (const outcome of outcomes) {
      const events = entities.get(`${outcome.kind}:${outcome.id}`) ?? [];
      const latest = events.reduce((a, b) =>
        Date.parse(b.envelope.timestamp) > Date.parse(a.envelope.timestamp) ? b : a,
      );
      expect(latest.envelope.event_type).toBe(`${outcome.kind}:${outcome.finalStatus}`);
      expect(PATHS[outcome.kind]?.some((path) => path.includes(outcome.finalStatus))).toBe(true);
      if (events.at(-1) !== latest) sentLastIsNotFinal += 1;
    }
    expect(sentLastIsNotFinal).toBeGreaterThan(0);
  });
});

describe("seeded PRNG", () => {
  it("is deterministic and spreads draws", () => {
    const a = createRandom("x");
    const b = createRandom("x");
    const draws = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(draws);
    expect(draws.every((value) => value >= 0 && value < 1)).toBe(true);
    const mean = draws.reduce((sum, value) => sum + value, 0) / draws.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe("simulator flags", () => {
  const parse = (args: string[], env: Record<string, string> = {}, devVars: string | null = null) =>
    parseSimulatorArgs(
      args,
      env,
      () => Date.parse("2026-03-01T12:34:56.789Z"),
      () => devVars,
    );

  it("starts a seeded run at a fixed time and ends an unseeded one now, with a random seed", () => {
    const seeded = parse(["--seed", "7", "--dry-run"]);
    expect(seeded.kind === "run" && new Date(seeded.config.startTime).toISOString()).toBe("2025-01-15T09:00:00.000Z");
    const unseeded = parse(["--dry-run", "--count", "40"]);
    if (unseeded.kind !== "run") throw new Error("expected a run");
    expect(unseeded.config.seed).toMatch(/^\d+$/);
    const times = buildPlan(unseeded.config).sends.map((send) => Date.parse(send.envelope.timestamp));
    // The timeline spans hours (stories of 40 events), and it ends at the clock's second, not after it.
    expect(new Date(Math.max(...times)).toISOString()).toBe("2026-03-01T12:34:56.000Z");
    expect(Math.min(...times)).toBe(unseeded.config.startTime);
    expect(unseeded.config.startTime).toBeLessThan(Date.parse("2026-03-01T10:00:00Z"));
  });

  it("starts an unseeded run with --start-time at that time", () => {
    const result = parse(["--dry-run", "--start-time", "2026-02-01T00:00:00Z"]);
    expect(result.kind === "run" && new Date(result.config.startTime).toISOString()).toBe("2026-02-01T00:00:00.000Z");
  });

  it("has the documented defaults and environment fallbacks", () => {
    const result = parse([], {
      NOVAMED_WEBHOOK_SECRET: "new-key, old-key",
      NOVAMED_CLINIC_ID: "11111111-2222-4333-8444-555555555555",
    });
    expect(result.kind).toBe("run");
    if (result.kind !== "run") return;
    expect(result.config).toMatchObject({
      target: "http://localhost:8787/webhooks/novamed",
      apiKey: "new-key",
      clinicId: "11111111-2222-4333-8444-555555555555",
      count: 50,
      duplicateRate: 0,
      outOfOrderRate: 0,
      concurrency: 4,
      retryScale: 1,
      timeoutMs: 5000,
      dryRun: false,
      json: false,
    });
  });

  it("rejects bad values with a usage error", () => {
    const bad = [
      ["--count", "0"],
      ["--count", "2.5"],
      ["--duplicate-rate", "1"],
      ["--out-of-order-rate", "-0.1"],
      ["--concurrency", "x"],
      ["--clinic-id", "nope"],
      ["--target", "localhost:8787"],
      ["--start-time", "yesterday"],
      ["--seed", "has space"],
      ["--verbose"],
      ["extra"],
    ];
    for (const args of bad) expect(() => parse([...args, "--api-key", "k"]), args.join(" ")).toThrow(UsageError);
    expect(() => parse([])).toThrow(/missing API key: set NOVAMED_WEBHOOK_SECRET, or run npm run dev/);
  });

  it.each([
    ["http://localhost:8787/webhooks/novamed", true],
    ["http://127.0.0.1:8787/webhooks/novamed", true],
    ["http://[::1]:8787/webhooks/novamed", true],
    ["https://receiver.example.com/webhooks/novamed", true],
    ["http://receiver.example.com/webhooks/novamed", false],
    ["http://192.168.1.20:8787/webhooks/novamed", false],
    ["http://localhost.evil.example/webhooks/novamed", false],
  ])("--target %s: accepted %s (plain http only to this machine)", (target, accepted) => {
    const parsed = () => parse(["--target", target], { NOVAMED_WEBHOOK_SECRET: "some-key" });
    if (accepted) expect(parsed().kind).toBe("run");
    else expect(parsed).toThrow(/--target must use https:\/\/ \(plain http:\/\/ only to localhost/);
  });

  it("against localhost reads the key from .dev.vars when the environment has none; the environment wins", () => {
    const devVars = "NOVAMED_CLINIC_IDS=x\nNOVAMED_WEBHOOK_SECRET=key-from-dev-vars,older\nADMIN_TOKEN=t\n";
    const fromFile = parse([], {}, devVars);
    expect(fromFile.kind === "run" && fromFile.config.apiKey).toBe("key-from-dev-vars");
    expect(fromFile.kind === "run" && fromFile.warnings).toEqual([]);
    const fromEnv = parse([], { NOVAMED_WEBHOOK_SECRET: "key-from-env" }, devVars);
    expect(fromEnv.kind === "run" && fromEnv.config.apiKey).toBe("key-from-env");
    // A remote receiver never gets the local key.
    expect(() => parse(["--target", "https://receiver.example.com/webhooks/novamed"], {}, devVars)).toThrow(
      /missing API key: set NOVAMED_WEBHOOK_SECRET to the receiver's key/,
    );
    // The example's empty line is no key.
    expect(() => parse([], {}, "NOVAMED_WEBHOOK_SECRET=\n")).toThrow(UsageError);
  });

  it("warns on --api-key, as the novamed CLI does, and not for a key from the environment", () => {
    const flagged = parse(["--api-key", "key-on-the-command-line"]);
    expect(flagged.kind === "run" && flagged.warnings).toEqual([API_KEY_FLAG_WARNING]);
    expect(API_KEY_FLAG_WARNING).toMatch(/process list.*NOVAMED_WEBHOOK_SECRET/);
    const quiet = parse([], { NOVAMED_WEBHOOK_SECRET: "key-from-env" });
    expect(quiet.kind === "run" && quiet.warnings).toEqual([]);
  });
});

describe("npm run simulate -- --dry-run", () => {
  it("prints the bodies it would send, identically for the same seed", async () => {
    const run = async () => {
      const out = capture();
      const code = await main(["--dry-run", "--seed", "demo", "--count", "40", "--duplicate-rate", "0.1"], {}, out.io);
      return { code, ...out };
    };
    const first = await run();
    expect(first.code).toBe(0);
    expect(first.stdout).toHaveLength(40);
    expect(first.stdout.map((line) => JSON.parse(line).event_id).every((id: string) => id.startsWith("evt_"))).toBe(
      true,
    );
    expect((await run()).stdout).toEqual(first.stdout);
  });
});

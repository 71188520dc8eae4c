import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch, runDeadLetter } from "../helpers/queue";
import { alertsOn, applyAt, DAY, HOUR, runWatch } from "../helpers/watch";

const T0 = Date.parse("2026-03-02T15:00:00.000Z");
const SECOND = 1000;

interface LifecycleCase {
  rule: string;
  /** Puts a fresh target into the watched state at `at`; returns its id. */
  stall: (at: number) => Promise<string>;
  /** When, after T0, the alert must open. */
  threshold: number;
  /** Moves the target on at `at`. */
  moveOn: (at: number, id: string) => Promise<unknown>;
}

const order = (id: string) => ({ order_id: id, medication_request_id: uniqueId("mr") });

/** A `stall` that applies `type` at `at` to a fresh target (id prefixed `prefix`) with `dataOf(id)`. */
function stallWith(prefix: string, type: string, dataOf: (id: string) => Record<string, unknown>) {
  return async (at: number) => {
    const id = uniqueId(prefix);
    await applyAt(at, type, dataOf(id));
    return id;
  };
}

const CASES: LifecycleCase[] = [
  {
    rule: "medication_request:approved",
    stall: stallWith("mr", "medication_request:approved", (id) => ({ medication_request_id: id })),
    threshold: T0 + 24 * HOUR,
    moveOn: (at, id) => applyAt(at, "order:created", { order_id: uniqueId("ord"), medication_request_id: id }),
  },
  {
    rule: "order:created",
    stall: stallWith("ord", "order:created", (id) => order(id)),
    threshold: T0 + 72 * HOUR,
    moveOn: (at, id) => applyAt(at, "order:processing", { order_id: id }),
  },
  {
    rule: "order:processing",
    stall: stallWith("ord", "order:processing", (id) => order(id)),
    threshold: T0 + 72 * HOUR,
    moveOn: (at, id) => applyAt(at, "order:shipped", { order_id: id }),
  },
  {
    rule: "order:shipped",
    // Estimated for 2026-03-04: due two days after that day's start (UTC).
    stall: stallWith("ord", "order:shipped", (id) => ({ ...order(id), estimated_delivery: "2026-03-04" })),
    threshold: Date.parse("2026-03-06T00:00:00.000Z"),
    moveOn: (at, id) => applyAt(at, "order:delivered", { order_id: id }),
  },
  {
    rule: "order:shipped",
    stall: stallWith("ord", "order:shipped", (id) => ({ ...order(id), estimated_delivery: undefined })),
    threshold: T0 + 7 * DAY,
    moveOn: (at, id) => applyAt(at, "order:cancelled", { order_id: id }),
  },
  {
    rule: "refill:requested",
    stall: stallWith("ref", "refill:requested", (id) => ({ refill_id: id })),
    threshold: T0 + 48 * HOUR,
    moveOn: (at, id) => applyAt(at, "refill:denied", { refill_id: id }),
  },
];

describe("lifecycle rules (default thresholds)", () => {
  it.each(CASES.map((rule, index) => [`${rule.rule} #${index}`, rule] as const))(
    "%s opens at its threshold, not before, once, and resolves when the target moves on",
    async (_name, rule) => {
      const id = await rule.stall(T0);
      await runWatch(rule.threshold - SECOND);
      expect(await alertsOn(id, rule.rule)).toEqual([]);

      await runWatch(rule.threshold);
      const [opened, ...others] = await alertsOn(id, rule.rule);
      expect(others).toEqual([]);
      expect(opened).toMatchObject({
        state: "open",
        opened_at: new Date(rule.threshold).toISOString(),
        since: new Date(T0).toISOString(),
        resolved_at: null,
      });

      await runWatch(rule.threshold + 5 * 60 * SECOND);
      await runWatch(rule.threshold + DAY);
      expect(await alertsOn(id, rule.rule)).toHaveLength(1);

      const movedAt = rule.threshold + DAY + HOUR;
      await rule.moveOn(movedAt, id);
      await runWatch(movedAt + 5 * 60 * SECOND);
      expect(await alertsOn(id, rule.rule)).toMatchObject([
        {
          alert_id: opened?.alert_id,
          state: "resolved",
          resolved_at: new Date(movedAt + 5 * 60 * SECOND).toISOString(),
        },
      ]);
    },
  );

  it("honours LIFECYCLE_RULES: a custom duration and `off`", async () => {
    const refill = uniqueId("ref");
    await applyAt(T0, "refill:requested", { refill_id: refill });
    const id = uniqueId("mr");
    await applyAt(T0, "medication_request:approved", { medication_request_id: id });
    const rules = { LIFECYCLE_RULES: "refill:requested=30m,medication_request:approved=off" };
    await runWatch(T0 + 30 * 60 * SECOND - SECOND, rules);
    expect(await alertsOn(refill)).toEqual([]);
    await runWatch(T0 + 30 * 60 * SECOND, rules);
    expect(await alertsOn(refill)).toMatchObject([{ rule: "refill:requested", state: "open" }]);
    await runWatch(T0 + 2 * DAY, rules);
    expect(await alertsOn(id)).toEqual([]);
  });

  it("resolves the open alerts of a rule that is turned off", async () => {
    const refill = uniqueId("ref");
    await applyAt(T0, "refill:requested", { refill_id: refill });
    await runWatch(T0 + 48 * HOUR);
    expect(await alertsOn(refill)).toMatchObject([{ state: "open" }]);
    await runWatch(T0 + 49 * HOUR, { LIFECYCLE_RULES: "refill:requested=off" });
    expect(await alertsOn(refill)).toMatchObject([{ state: "resolved" }]);
  });
});

describe("operational rules", () => {
  it("opens on a dead event at once and resolves when a redelivery processes it", async () => {
    // A dead letter whose handler still throws is stored dead.
    const event = makeEvent("order:created", { data: { order_id: uniqueId("ord") } });
    await runDeadLetter(event, 11);
    await runWatch(Date.now());
    expect(await alertsOn(event.event_id)).toMatchObject([{ rule: "event_dead", target_type: "event", state: "open" }]);
    await runWatch(Date.now() + 5 * 60 * SECOND);
    expect(await alertsOn(event.event_id)).toHaveLength(1);
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    await runWatch(Date.now() + 5 * 60 * SECOND);
    expect(await alertsOn(event.event_id)).toMatchObject([{ state: "resolved" }]);
  });

  it("opens on an invalid event and resolves once it is no longer invalid", async () => {
    const event = makeEvent("order:shipped", { data: { order_id: undefined } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    await runWatch(Date.now());
    expect(await alertsOn(event.event_id)).toMatchObject([{ rule: "event_invalid", clinic_id: event.clinic_id }]);
    // As after a forced replay that applied it.
    await env.DB.prepare(`UPDATE events SET status = 'processed' WHERE event_id = ?1`).bind(event.event_id).run();
    await runWatch(Date.now() + 5 * 60 * SECOND);
    expect(await alertsOn(event.event_id)).toMatchObject([{ state: "resolved" }]);
  });

  it.each(["failed", "held"])("opens on a %s notification and resolves when it moves on", async (status) => {
    // An event type that notifies nobody, so the row below is the only one for it.
    const event = makeEvent("invoice:sent");
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const id = uniqueId("ntf");
    const at = new Date().toISOString();
    await env.DB.prepare(
      `INSERT INTO notifications (notification_id, event_id, channel, kind, patient_id, entity_id, status, created_at, updated_at)
VALUES (?1, ?2, 'email', 'order_delivered', 'pat_1', 'ord_1', ?3, ?4, ?4)`,
    )
      .bind(id, event.event_id, status, at)
      .run();
    await runWatch(Date.now());
    expect(await alertsOn(id)).toMatchObject([
      { rule: `notification_${status}`, target_type: "notification", clinic_id: event.clinic_id, state: "open" },
    ]);
    await env.DB.prepare(`UPDATE notifications SET status = 'sent' WHERE notification_id = ?1`).bind(id).run();
    await runWatch(Date.now() + 5 * 60 * SECOND);
    expect(await alertsOn(id)).toMatchObject([{ state: "resolved" }]);
  });

  it("opens on a configuration problem by variable name and resolves when it is fixed", async () => {
    await runWatch(Date.now(), { SMS_SEND_WINDOW: "21:00-08:00" });
    const [alert] = await alertsOn("SMS_SEND_WINDOW", "config_problem");
    expect(alert).toMatchObject({ target_type: "config", state: "open" });
    await runWatch(Date.now() + 5 * 60 * SECOND, { SMS_SEND_WINDOW: "21:00-08:00" });
    expect(await alertsOn("SMS_SEND_WINDOW", "config_problem")).toHaveLength(1);
    await runWatch(Date.now() + 5 * 60 * SECOND);
    expect(await alertsOn("SMS_SEND_WINDOW", "config_problem")).toMatchObject([{ state: "resolved" }]);
  });

  it("keeps watching events when the watch settings themselves are broken", async () => {
    // A dead letter whose handler still throws is stored dead.
    const event = makeEvent("order:created", { data: { order_id: uniqueId("ord") } });
    await runDeadLetter(event, 11);
    await runWatch(Date.now(), { LIFECYCLE_RULES: "order:lost=1h" });
    expect(await alertsOn(event.event_id)).toMatchObject([{ rule: "event_dead" }]);
    expect(await alertsOn("LIFECYCLE_RULES")).toMatchObject([{ rule: "config_problem", state: "open" }]);
  });
});

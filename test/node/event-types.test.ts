import { describe, expect, it } from "vitest";
import { EVENT_PROGRESSIONS, EVENT_TYPES, eventTypeParts, isEventType } from "../../src/event-types.ts";
import { EVENT_TYPES as CATALOG_EVENT_TYPES } from "../../tools/simulator/catalog.ts";
import { EVENT_TYPES as SIMULATED_EVENT_TYPES } from "../../tools/simulator/lifecycles.ts";

describe("the one table of event types", () => {
  it("lists the twelve NovaMed event types as entity:status", () => {
    expect(EVENT_TYPES).toEqual([
      "order:created",
      "order:processing",
      "order:shipped",
      "order:delivered",
      "order:cancelled",
      "medication_request:created",
      "medication_request:approved",
      "medication_request:filled",
      "medication_request:cancelled",
      "refill:requested",
      "refill:approved",
      "refill:denied",
    ]);
  });

  it("takes a known type apart into entity, status and rank, and nothing else", () => {
    expect(eventTypeParts("order:cancelled")).toEqual({ entity: "order", status: "cancelled", rank: 9 });
    expect(eventTypeParts("refill:denied")).toEqual({ entity: "refill", status: "denied", rank: 2 });
    for (const unknown of ["invoice:paid", "order:", "order", "order:shipped:extra", "toString", "__proto__"]) {
      expect(eventTypeParts(unknown)).toBeNull();
      expect(isEventType(unknown)).toBe(false);
    }
  });

  it("ranks terminal states above every other state of their entity", () => {
    const order = EVENT_PROGRESSIONS.order;
    expect(Math.max(order.created, order.processing, order.shipped, order.delivered)).toBeLessThan(order.cancelled);
    expect(EVENT_PROGRESSIONS.refill.approved).toBe(EVENT_PROGRESSIONS.refill.denied);
  });

  it("is what the simulator sends", () => {
    expect(CATALOG_EVENT_TYPES).toBe(EVENT_TYPES);
    expect([...SIMULATED_EVENT_TYPES].sort()).toEqual([...EVENT_TYPES].sort());
  });
});

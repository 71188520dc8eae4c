import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getEntity } from "../../src/db/entities";
import { ALL_CLINICS } from "../../src/db/scope";
import type { EntityKind } from "../../src/event-types";
import { adminJson } from "../helpers/admin";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, eventRow, runBatch } from "../helpers/queue";

const SECRET = "CANARY-VALUE-7731";
const LONG = `${SECRET}${"x".repeat(2100)}`;
/** Values no optional field accepts: each must be dropped with a warning, never reject the event. */
const HOSTILE_VALUES: unknown[] = [{ note: SECRET }, [SECRET], true, LONG];

/** Every optional field of the three entity schemas, with the event type and entity it belongs to. */
const OPTIONAL_FIELDS: { type: string; kind: EntityKind; idField: string; fields: string[] }[] = [
  {
    type: "order:shipped",
    kind: "order",
    idField: "order_id",
    fields: [
      "medication_request_id",
      "tracking_number",
      "carrier",
      "estimated_delivery",
      "shipping_address",
      "reason",
      "cancellation_reason",
      "shipping_address.line1",
      "shipping_address.line2",
      "shipping_address.city",
      "shipping_address.state",
      "shipping_address.zip",
    ],
  },
  {
    type: "medication_request:approved",
    kind: "medication_request",
    idField: "medication_request_id",
    fields: [
      "practitioner_id",
      "medication_name",
      "quantity",
      "refills",
      "approved_at",
      "filled_at",
      "reason",
      "cancellation_reason",
    ],
  },
  {
    type: "refill:denied",
    kind: "refill",
    idField: "refill_id",
    fields: ["medication_request_id", "reason", "denial_reason"],
  },
];

/** `data` with `path` (dotted) set to `value`, over the type's realistic data. */
function withField(type: string, path: string, value: unknown): Record<string, unknown> {
  const data = structuredClone(makeEvent(type).data);
  const [head, tail] = path.split(".") as [string, string | undefined];
  if (tail === undefined) data[head] = value;
  else data[head] = { ...(data[head] as Record<string, unknown> | undefined), [tail]: value };
  return data;
}

async function apply(type: string, idField: string, data: Record<string, unknown>) {
  const event = makeEvent(type, { data: { ...data, [idField]: uniqueId("ent") } });
  await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
  return { event, row: await eventRow(event.event_id) };
}

describe("an optional field never drops a state transition", () => {
  for (const { type, kind, idField, fields } of OPTIONAL_FIELDS) {
    it.each(fields)(`${type}: a hostile %s is dropped with a warning, the event processed`, async (field) => {
      // A whole nested object (shipping_address) also takes the non-object values of its own.
      const values = field === "shipping_address" ? [SECRET, 42, [SECRET], true] : HOSTILE_VALUES;
      for (const value of values) {
        const { event, row } = await apply(type, idField, withField(type, field, value));
        expect(row.status, `${field} = ${typeof value}`).toBe("processed");
        const warnings = JSON.parse(row.warnings ?? "[]") as { path: string; message: string }[];
        expect(warnings.map((warning) => warning.path)).toContain(`data.${field}`);
        expect(row.warnings).not.toContain(SECRET);
        const entity = await getEntity(env.DB, ALL_CLINICS, kind, String(event.data[idField]));
        expect(entity?.status).toBe(type.split(":")[1]);
      }
    });
  }

  it("coerces where the meaning is clear: numeric zip, quantity, refills and tracking number", async () => {
    const order = await apply("order:shipped", "order_id", {
      ...withField("order:shipped", "shipping_address.zip", 2134),
      tracking_number: 1234567890,
    });
    expect(order.row).toMatchObject({ status: "processed", warnings: null });
    const orderRow = await getEntity(env.DB, ALL_CLINICS, "order", String(order.event.data.order_id));
    expect(JSON.parse(String(orderRow?.shipping_address))).toMatchObject({ zip: "02134" });
    expect(orderRow?.tracking_number).toBe("1234567890");

    const zip = await apply("order:shipped", "order_id", withField("order:shipped", "shipping_address.zip", 94102));
    const zipRow = await getEntity(env.DB, ALL_CLINICS, "order", String(zip.event.data.order_id));
    expect(JSON.parse(String(zipRow?.shipping_address))).toMatchObject({ zip: "94102" });

    const request = await apply("medication_request:approved", "medication_request_id", {
      ...makeEvent("medication_request:approved").data,
      quantity: "30",
      refills: " 5 ",
    });
    expect(request.row.warnings).toBeNull();
    const requestRow = await getEntity(
      env.DB,
      ALL_CLINICS,
      "medication_request",
      String(request.event.data.medication_request_id),
    );
    expect(requestRow).toMatchObject({ quantity: 30, refills: 5 });
  });

  it("a missing or malformed required id still makes the event invalid", async () => {
    for (const data of [{ patient_id: 42 }, { patient_id: "" }, { patient_id: undefined }]) {
      const { row } = await apply("refill:approved", "refill_id", { ...makeEvent("refill:approved").data, ...data });
      expect(row.status).toBe("invalid");
    }
  });

  it("shows the warnings in GET /admin/events/:event_id, an empty list when there are none", async () => {
    const odd = await apply("medication_request:approved", "medication_request_id", {
      ...makeEvent("medication_request:approved").data,
      refills: -2,
    });
    const detail = await adminJson(`/events/${odd.event.event_id}`);
    expect(detail.body.warnings).toEqual([{ path: "data.refills", message: "must not be negative" }]);
    const clean = await apply("refill:approved", "refill_id", makeEvent("refill:approved").data);
    expect((await adminJson(`/events/${clean.event.event_id}`)).body.warnings).toEqual([]);
  });
});

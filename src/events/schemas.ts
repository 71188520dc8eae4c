import { z } from "zod";
import type { EventEnvelope } from "./envelope";
import { type EntityKind, type EventTypeOf, eventTypeParts, type StatusOf } from "./event-types";
import { type ErrorIssue, toIssues } from "./issues";

/**
 * Per-entity `data` schemas for the NovaMed event types (listed in ./event-types.ts). The guide shows payloads for
 * `order:shipped` and `medication_request:approved` only; for the rest we require the ids a handler
 * needs and let every other field through (`looseObject`), because NovaMed may add fields at any time.
 */

const id = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }).max(200, {
  error: "must be at most 200 characters",
});
const text = z.string({ error: "must be a string" }).max(2000, { error: "is too long" });
const optionalText = text.nullish();
const isoDate = z.string({ error: "must be a string" }).max(40, { error: "is too long" }).nullish();

/**
 * The address fields the clinic uses (staff answering "where is my order"); `z.object` strips any
 * other key NovaMed may send (a recipient's name, a phone), so only these are ever stored.
 */
const shippingAddress = z.object({
  line1: optionalText,
  line2: optionalText,
  city: optionalText,
  state: optionalText,
  zip: optionalText,
});

const orderData = z.looseObject({
  order_id: id,
  patient_id: id,
  medication_request_id: id.nullish(),
  tracking_number: optionalText,
  carrier: optionalText,
  estimated_delivery: isoDate,
  shipping_address: shippingAddress.nullish(),
  reason: optionalText,
  cancellation_reason: optionalText,
});

const medicationRequestData = z.looseObject({
  medication_request_id: id,
  patient_id: id,
  practitioner_id: id.nullish(),
  medication_name: optionalText,
  quantity: z.number({ error: "must be a number" }).nonnegative({ error: "must not be negative" }).nullish(),
  refills: z
    .number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .nonnegative({ error: "must not be negative" })
    .nullish(),
  approved_at: isoDate,
  filled_at: isoDate,
  reason: optionalText,
  cancellation_reason: optionalText,
});

const refillData = z.looseObject({
  refill_id: id,
  patient_id: id,
  medication_request_id: id.nullish(),
  reason: optionalText,
  denial_reason: optionalText,
});

/** The data schema of each entity's events; every event type of an entity shares it. */
const DATA_SCHEMAS = {
  order: orderData,
  medication_request: medicationRequestData,
  refill: refillData,
} as const satisfies Record<EntityKind, z.ZodType>;

/** The checked `data` of an event about entity `K`. */
export type DataOf<K extends EntityKind> = K extends EntityKind ? z.infer<(typeof DATA_SCHEMAS)[K]> : never;

/**
 * A NovaMed event of entity `K` whose `data` passed its schema, with its type taken apart: the
 * entity, the status the event moves it to and that status's rank (from the event-type table).
 */
export type EventOf<K extends EntityKind> = Pick<EventEnvelope, "event_id" | "timestamp" | "clinic_id"> & {
  event_type: EventTypeOf<K>;
  entity: K;
  status: StatusOf<K>;
  rank: number;
  data: DataOf<K>;
};

/** Any valid NovaMed event; `entity` (or `event_type`) discriminates `data`. */
export type NovaMedEvent = { [K in EntityKind]: EventOf<K> }[EntityKind];

export type ParsedEvent =
  | { kind: "valid"; event: NovaMedEvent }
  | { kind: "unknown_type" }
  | { kind: "invalid"; issues: ErrorIssue[] };

/** Checks an accepted envelope's `data` against its type's schema; issues carry paths, never values. */
export function parseEvent(envelope: EventEnvelope): ParsedEvent {
  const parts = eventTypeParts(envelope.event_type);
  if (!parts) return { kind: "unknown_type" };
  const result = DATA_SCHEMAS[parts.entity].safeParse(envelope.data);
  if (!result.success) {
    return {
      kind: "invalid",
      issues: toIssues(result.error).map((issue) => ({ ...issue, path: `data.${issue.path}` })),
    };
  }
  // The schema was chosen by `parts.entity`, so `data` matches it; TypeScript cannot follow that link.
  return { kind: "valid", event: { ...envelope, ...parts, data: result.data } as NovaMedEvent };
}

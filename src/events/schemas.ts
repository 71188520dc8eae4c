import { z } from "zod";
import type { ErrorIssue } from "../http/errors";
import { toIssues } from "../http/errors";
import type { EventEnvelope } from "./envelope";

/**
 * Per-type `data` schemas for the twelve NovaMed event types. The guide shows payloads for
 * `order:shipped` and `medication_request:approved` only; for the rest we require the ids a handler
 * needs and let every other field through (`looseObject`), because NovaMed may add fields at any time.
 */

const id = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }).max(200, {
  error: "must be at most 200 characters",
});
const text = z.string({ error: "must be a string" }).max(2000, { error: "is too long" });
const optionalText = text.nullish();
const isoDate = z.string({ error: "must be a string" }).max(40, { error: "is too long" }).nullish();

const shippingAddress = z.looseObject({
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

export type OrderData = z.infer<typeof orderData>;
export type MedicationRequestData = z.infer<typeof medicationRequestData>;
export type RefillData = z.infer<typeof refillData>;

/** Every NovaMed event type with its data schema. */
export const DATA_SCHEMAS = {
  "order:created": orderData,
  "order:processing": orderData,
  "order:shipped": orderData,
  "order:delivered": orderData,
  "order:cancelled": orderData,
  "medication_request:created": medicationRequestData,
  "medication_request:approved": medicationRequestData,
  "medication_request:filled": medicationRequestData,
  "medication_request:cancelled": medicationRequestData,
  "refill:requested": refillData,
  "refill:approved": refillData,
  "refill:denied": refillData,
} as const;

export type KnownEventType = keyof typeof DATA_SCHEMAS;
export const EVENT_TYPES = Object.keys(DATA_SCHEMAS) as KnownEventType[];

/** A NovaMed event whose `data` passed its type's schema; `event_type` discriminates `data`. */
export type NovaMedEvent = Pick<EventEnvelope, "event_id" | "timestamp" | "clinic_id"> &
  (
    | { event_type: `order:${"created" | "processing" | "shipped" | "delivered" | "cancelled"}`; data: OrderData }
    | {
        event_type: `medication_request:${"created" | "approved" | "filled" | "cancelled"}`;
        data: MedicationRequestData;
      }
    | { event_type: `refill:${"requested" | "approved" | "denied"}`; data: RefillData }
  );

export type ParsedEvent =
  | { kind: "valid"; event: NovaMedEvent }
  | { kind: "unknown_type" }
  | { kind: "invalid"; issues: ErrorIssue[] };

function isKnownType(type: string): type is KnownEventType {
  return Object.hasOwn(DATA_SCHEMAS, type);
}

/** Checks an accepted envelope's `data` against its type's schema; issues carry paths, never values. */
export function parseEvent(envelope: EventEnvelope): ParsedEvent {
  if (!isKnownType(envelope.event_type)) return { kind: "unknown_type" };
  const result = DATA_SCHEMAS[envelope.event_type].safeParse(envelope.data);
  if (!result.success) {
    return {
      kind: "invalid",
      issues: toIssues(result.error).map((issue) => ({ ...issue, path: `data.${issue.path}` })),
    };
  }
  return { kind: "valid", event: { ...envelope, data: result.data } as NovaMedEvent };
}

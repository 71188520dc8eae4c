import { exports } from "cloudflare:workers";
import medicationRequestApproved from "../fixtures/medication-request-approved.json";
import orderShipped from "../fixtures/order-shipped.json";

export const CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";
export const OTHER_CLINIC_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
export const API_KEY = "test-webhook-key-current-7d1e9a4c2b6f8e03";
export const PREVIOUS_API_KEY = "test-webhook-key-previous-5a0c3f9e1d7b2c64";
export const ADMIN_TOKEN = "test-only-admin-token-4f9c2a7e1b8d3c6f";

let counter = 0;

/** A unique id per call, so tests sharing one file's storage never collide. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}_${Date.now().toString(36)}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

export interface EnvelopeLike {
  event_type: string;
  event_id: string;
  timestamp: string;
  clinic_id: string;
  data: Record<string, unknown>;
  [extra: string]: unknown;
}

/** The guide's two example payloads, as NovaMed documents them. */
const GUIDE_DATA = {
  "order:shipped": orderShipped.data,
  "medication_request:approved": medicationRequestApproved.data,
} as const;

const ORDER = {
  order_id: "ord_12345",
  patient_id: "pat_67890",
  medication_request_id: "med_req_11111",
};
const MEDICATION_REQUEST = { medication_request_id: "med_req_11111", patient_id: "pat_67890" };
const REFILL = { refill_id: "ref_33333", patient_id: "pat_67890", medication_request_id: "med_req_11111" };

/**
 * Realistic `data` per event type: each type carries what NovaMed would send for it (the guide's
 * examples for the two it shows; the ids a handler needs plus plausible facts for the rest), so a
 * test of one type never leans on another type's fields.
 */
const DATA_BUILDERS: Record<string, () => Record<string, unknown>> = {
  "order:created": () => ({
    ...ORDER,
    shipping_address: structuredClone(orderShipped.data.shipping_address),
  }),
  "order:processing": () => ({ ...ORDER }),
  "order:shipped": () => structuredClone(GUIDE_DATA["order:shipped"]),
  "order:delivered": () => ({ ...ORDER, delivered_at: "2025-01-17T15:42:00.000Z" }),
  "order:cancelled": () => ({ ...ORDER, cancellation_reason: "Cancelled at the patient's request" }),
  "medication_request:created": () => ({
    ...MEDICATION_REQUEST,
    practitioner_id: "prac_22222",
    medication_name: "Testosterone Cypionate",
    quantity: 1,
    refills: 3,
  }),
  "medication_request:approved": () => structuredClone(GUIDE_DATA["medication_request:approved"]),
  "medication_request:filled": () => ({ ...MEDICATION_REQUEST, filled_at: "2025-01-15T14:00:00.000Z" }),
  "medication_request:cancelled": () => ({ ...MEDICATION_REQUEST, cancellation_reason: "Prescriber withdrew it" }),
  "refill:requested": () => ({ ...REFILL }),
  "refill:approved": () => ({ ...REFILL }),
  "refill:denied": () => ({ ...REFILL, denial_reason: "A follow-up visit is needed first" }),
};

/** The realistic data of an event type; an unknown type gets an opaque object NovaMed might send. */
export function dataFor(eventType: string): Record<string, unknown> {
  return DATA_BUILDERS[eventType]?.() ?? { reference: "ref_unknown_99999" };
}

/**
 * A NovaMed envelope of the given type with a fresh event id, the suite clock's time, and that type's
 * own realistic data; `overrides` replace envelope fields, and `data` fields are merged over the
 * type's data (set one to `undefined` to drop it).
 */
export function makeEvent(
  eventType: string,
  overrides: Partial<Omit<EnvelopeLike, "data">> & { data?: Record<string, unknown> } = {},
): EnvelopeLike {
  const { data, ...envelope } = overrides;
  const merged: Record<string, unknown> = { ...dataFor(eventType), ...data };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  return {
    event_type: eventType,
    event_id: uniqueId("evt"),
    timestamp: new Date().toISOString(),
    clinic_id: CLINIC_ID,
    ...envelope,
    data: merged,
  };
}

/** POSTs a body to the receiver through the Worker's own fetch handler. */
export function postWebhook(
  body: unknown,
  options: { headers?: Record<string, string>; raw?: BodyInit } = {},
): Promise<Response> {
  return exports.default.fetch("https://receiver.test/webhooks/novamed", {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": API_KEY, ...options.headers },
    body: options.raw ?? JSON.stringify(body),
  });
}

import { exports } from "cloudflare:workers";
import orderShipped from "../fixtures/order-shipped.json";

export const CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";
export const OTHER_CLINIC_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
export const API_KEY = "test-key-current";
export const PREVIOUS_API_KEY = "test-key-previous";
export const ADMIN_TOKEN = "test-admin-token";

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

/**
 * A NovaMed envelope of the given type with a fresh event id; `data` defaults to the guide's
 * `order:shipped` example data, and `overrides` replace envelope fields (data is merged).
 */
export function makeEvent(
  eventType: string,
  overrides: Partial<Omit<EnvelopeLike, "data">> & { data?: Record<string, unknown> } = {},
): EnvelopeLike {
  const { data, ...envelope } = overrides;
  return {
    event_type: eventType,
    event_id: uniqueId("evt"),
    timestamp: new Date().toISOString(),
    clinic_id: CLINIC_ID,
    ...envelope,
    data: { ...structuredClone(orderShipped.data), ...data },
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

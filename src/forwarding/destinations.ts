import { Webhook } from "standardwebhooks";
import { z } from "zod";
import type { Destination } from "../db/destinations";

/**
 * Forwarding destinations (issue 25): where a clinic's own systems hear of changes. The settings an
 * admin sends, the signing secrets (Standard Webhooks 1.0: `whsec_` + base64, HMAC-SHA256 over
 * `id.timestamp.body`) and what the API shows of a destination (never a secret after it was issued).
 */

/** The change types a destination can ask for (or `["*"]` for every one). */
export const CHANGE_TYPES = [
  "order.status_changed",
  "medication_request.status_changed",
  "refill.status_changed",
  "notification.status_changed",
] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

/** How long a rotated-out secret keeps signing beside the new one. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Why `url` cannot be a destination, or null: https anywhere, http only to this machine, no credentials. */
export function destinationUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  if (parsed.username || parsed.password) return "must not carry credentials";
  if (parsed.protocol === "https:") return null;
  if (parsed.protocol === "http:" && LOCAL_HOSTS.has(parsed.hostname)) return null;
  return "must be https (http only to localhost or 127.0.0.1)";
}

/** The body of `PUT /admin/destinations/:destination_id`. */
export const destinationInput = z.strictObject(
  {
    clinic_id: z.guid({ error: "must be a clinic UUID" }).transform((id) => id.toLowerCase()),
    url: z
      .string({ error: "must be a URL" })
      .max(2048, { error: "is longer than 2048 characters" })
      .superRefine((url, context) => {
        const problem = destinationUrlProblem(url);
        if (problem) context.addIssue({ code: "custom", message: problem });
      }),
    events: z
      .array(z.enum([...CHANGE_TYPES, "*"], { error: `must be one of ${CHANGE_TYPES.join(", ")} or "*"` }), {
        error: 'must be a list of change types, or ["*"]',
      })
      .min(1, { error: "must name at least one change type" })
      .transform((events) => (events.includes("*") ? ["*"] : [...new Set(events)])),
    include_phi: z.boolean({ error: "must be true or false" }).default(false),
    enabled: z.boolean({ error: "must be true or false" }).default(true),
  },
  { error: "is not a destination field" },
);
export type DestinationInput = z.output<typeof destinationInput>;

/** An id chosen by the clinic: letters, digits, `_` and `-`, at most 64. */
export const DESTINATION_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A fresh signing secret: `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** The secrets that sign at `now`: the current one, and the previous one during its grace period. */
export function signingSecrets(destination: Destination, now: Date): string[] {
  const previousValid =
    destination.previous_secret !== null &&
    destination.previous_secret_expires_at !== null &&
    Date.parse(destination.previous_secret_expires_at) > now.getTime();
  return previousValid && destination.previous_secret
    ? [destination.secret, destination.previous_secret]
    : [destination.secret];
}

/** Standard Webhooks headers for `body` with id `id`, signed with every secret in `secrets`. */
export function signedHeaders(secrets: readonly string[], id: string, body: string, now: Date): Record<string, string> {
  const signature = secrets.map((secret) => new Webhook(secret).sign(id, now, body)).join(" ");
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": signature,
  };
}

/** What the API shows of a destination: its settings and state, never a secret. */
export function destinationView(destination: Destination, now: Date) {
  const rotating = signingSecrets(destination, now).length > 1;
  return {
    destination_id: destination.destination_id,
    clinic_id: destination.clinic_id,
    url: destination.url,
    events: destination.events,
    include_phi: destination.include_phi,
    enabled: destination.enabled,
    state: destination.enabled ? destination.state : "disabled",
    failure_streak: destination.failure_streak,
    last_success_at: destination.last_success_at,
    next_probe_at: destination.state === "paused" ? destination.probe_at : null,
    previous_secret_valid_until: rotating ? destination.previous_secret_expires_at : null,
    created_at: destination.created_at,
    updated_at: destination.updated_at,
  };
}

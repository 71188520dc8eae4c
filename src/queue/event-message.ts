import { z } from "zod";
import type { ClaimRequest } from "../db/events";
import { type EventEnvelope, envelopeSchema } from "../events/envelope";
import { normaliseTimestamp } from "../events/timestamp";
import { lazy } from "../lazy";
import { sha256Hex } from "../sha256";

const eventMessageSchema = lazy(() =>
  z.object({
    // A message enqueued under an older, looser timestamp check must still be read, never dropped.
    envelope: envelopeSchema().extend({ timestamp: z.string() }),
    received_at: z.string(),
    request_id: z.string().nullish(),
  }),
);

/** A queue message read back: the envelope, its normalised time and a hash of its content. */
export interface ReadEventMessage {
  envelope: EventEnvelope;
  receivedAt: string;
  requestId: string | null;
  /** The envelope's timestamp in UTC ISO 8601, so stored times compare as strings. */
  occurredAt: string;
  payload: string;
  payloadHash: string;
}

/**
 * Reads a `novamed-events` (or dead-letter) message body. Returns null for a body that is not an
 * event message at all — poison input to acknowledge and log, never to retry.
 */
export async function readEventMessage(body: unknown): Promise<ReadEventMessage | null> {
  const parsed = eventMessageSchema().safeParse(body);
  if (!parsed.success) return null;
  const { envelope, received_at, request_id } = parsed.data;
  // The payload and its hash are the event as NovaMed sent it: the hash is the event's identity in its
  // record, so it must not change with our normalisation (a stored event, an in-flight message and
  // NovaMed's redelivery of it all hash alike, whenever they were accepted).
  const payload = JSON.stringify(envelope);
  const payloadHash = await sha256Hex(payload);
  return {
    // Clinic ids are stored lower-case: the allow-list check ignores case, and every comparison after
    // it (the silence rule, the console's "last heard") matches the lower-cased configured ids.
    envelope: { ...envelope, clinic_id: envelope.clinic_id.toLowerCase() },
    receivedAt: received_at,
    requestId: request_id ?? null,
    occurredAt: normaliseTimestamp(envelope.timestamp) ?? envelope.timestamp,
    payload,
    payloadHash,
  };
}

/** What D1 records of a delivery when recording its event, whatever the outcome. */
export function claimRequestOf(read: ReadEventMessage): ClaimRequest {
  return {
    eventId: read.envelope.event_id,
    eventType: read.envelope.event_type,
    clinicId: read.envelope.clinic_id,
    occurredAt: read.occurredAt,
    receivedAt: read.receivedAt,
    payload: read.payload,
    payloadHash: read.payloadHash,
    requestId: read.requestId,
  };
}

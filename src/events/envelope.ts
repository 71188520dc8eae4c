import { z } from "zod";
import { lazy } from "../lazy";
import { normaliseTimestamp } from "./timestamp";

/**
 * The envelope every NovaMed webhook shares (guide: "Webhook Payload Structure"). Only the envelope is
 * checked at the edge; `data` is checked per event type by the consumer, because rejecting it here
 * would make NovaMed retry five times and then drop the event (docs/architecture.md, "The webhook
 * endpoint"). Built on first use (src/lazy.ts).
 */
export const envelopeSchema = lazy(() =>
  z.looseObject({
    event_id: z
      .string({ error: "must be a string" })
      .min(1, { error: "must not be empty" })
      .max(200, { error: "must be at most 200 characters" }),
    event_type: z
      .string({ error: "must be a string" })
      .regex(/^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$/, { error: "must have the form entity:action" }),
    timestamp: z.string({ error: "must be a string" }).refine((value) => normaliseTimestamp(value) !== null, {
      error: "must be an ISO 8601 date-time with an offset, in the years 0000 to 9999 once in UTC",
    }),
    clinic_id: z.guid({ error: "must be a UUID" }),
    data: z.record(z.string(), z.unknown(), { error: "must be an object" }),
  }),
);

export type EventEnvelope = z.infer<ReturnType<typeof envelopeSchema>>;

/** The body of a `novamed-events` queue message: the envelope plus what the edge knew of it. */
export interface EventMessage {
  envelope: EventEnvelope;
  /** When the edge accepted the delivery (ISO 8601). */
  received_at: string;
  /** The edge's request id, to follow one delivery through the logs. */
  request_id: string;
}

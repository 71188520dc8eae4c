import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { readWebhookConfig } from "../../config/webhook";
import { type EventMessage, envelopeSchema } from "../../events/envelope";
import { lazy } from "../../lazy";
import { errorKind, log } from "../../log";
import { enqueueOne } from "../../queue/enqueue";
import { ApiError, rejectInvalid } from "../errors";
import { apiKeyAuth } from "../middleware/api-key-auth";
import { bodyCap } from "../middleware/body-cap";
import { rejectionCount } from "../middleware/rejection-count";
import { requireJsonContentType } from "../middleware/require-json";
import type { App } from "../types";

/** NovaMed's payloads are a few hundred bytes; 64 KiB leaves room and bounds what we buffer. */
export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

/** Seconds NovaMed is asked to wait after a failed enqueue; its own schedule retries anyway. */
const ENQUEUE_RETRY_AFTER_SECONDS = 30;

const buildEnvelopeValidator = () =>
  zValidator("json", envelopeSchema(), rejectInvalid("invalid_envelope", "The event envelope is invalid."));
const envelopeValidator = lazy(buildEnvelopeValidator);

/** The envelope check, its schema built on the first delivery rather than at startup. */
const validateEnvelope: ReturnType<typeof buildEnvelopeValidator> = (c, next) => envelopeValidator()(c, next);

/**
 * `POST /webhooks/novamed`: authenticate, cap, parse, check the envelope and clinic, enqueue, 200; a
 * refusal is counted after the answer (src/http/middleware/rejection-count.ts).
 * No D1 and no business logic here: the answer must be fast, and a 200 must mean only "durably
 * enqueued" (the queue owns retries from then on). Anything else makes NovaMed retry.
 */
export const novamedWebhook = new Hono<App>().post(
  "/novamed",
  rejectionCount(),
  apiKeyAuth(),
  requireJsonContentType(),
  bodyCap(MAX_WEBHOOK_BODY_BYTES, "The body is larger than 64 KiB."),
  validateEnvelope,
  async (c) => {
    const envelope = c.req.valid("json");
    c.set("eventType", envelope.event_type);
    c.set("eventId", envelope.event_id);
    c.set("envelopeClinicId", envelope.clinic_id.toLowerCase());

    if (!readWebhookConfig(c.env).clinicIds.has(envelope.clinic_id.toLowerCase())) {
      throw new ApiError(403, "unknown_clinic", "The clinic_id is not served by this receiver.");
    }
    // A per-clinic key opens its own clinic only.
    const keyClinicId = c.get("keyClinicId");
    if (keyClinicId !== undefined && keyClinicId !== envelope.clinic_id.toLowerCase()) {
      throw new ApiError(403, "clinic_key_mismatch", "This key does not open the event's clinic.");
    }

    const message: EventMessage = {
      envelope,
      received_at: new Date().toISOString(),
      request_id: c.get("requestId"),
    };
    try {
      await enqueueOne(c.env.EVENTS, message);
    } catch (error) {
      log.error("enqueue failed", {
        request_id: message.request_id,
        event_id: envelope.event_id,
        error: errorKind(error),
      });
      throw new ApiError(503, "enqueue_failed", "The event could not be queued; retry later.", {
        headers: { "Retry-After": String(ENQUEUE_RETRY_AFTER_SECONDS) },
      });
    }
    // 200, not 202: NovaMed treats anything but exactly 200 as a failed delivery.
    return c.json({ received: true, event_id: envelope.event_id }, 200);
  },
);

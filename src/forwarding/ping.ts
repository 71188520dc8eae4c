import type { Destination } from "../db/destinations";
import { type AttemptResult, attemptDelivery } from "./attempt";
import { signedHeaders, signingSecrets } from "./destinations";

/**
 * `POST /admin/destinations/:id/test`: one signed `ping` to the destination, at once, with the same
 * headers, secrets, timeout and redirect rule as a change's delivery, so a clinic can check its
 * verifier before the first real change. Nothing is stored or retried.
 */
export async function pingDestination(
  destination: Destination,
  now: Date,
): Promise<AttemptResult & { webhook_id: string }> {
  const id = `ping_${crypto.randomUUID()}`;
  const body = JSON.stringify({
    type: "ping",
    id,
    occurred_at: now.toISOString(),
    clinic_id: destination.clinic_id,
    entity: null,
    data: { destination_id: destination.destination_id },
  });
  const headers = signedHeaders(signingSecrets(destination, now), id, body, now);
  return { webhook_id: id, ...(await attemptDelivery(destination.url, headers, body)) };
}

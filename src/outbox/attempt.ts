import type { DeliveryOutcome } from "../db/outbox";
import { errorKind } from "../log";

export type { DeliveryOutcome } from "../db/outbox";

/** A try's outcome; an unexpected throw counts as a failed delivery (retried like any other). */
export async function attemptDelivery(send: () => Promise<DeliveryOutcome>): Promise<DeliveryOutcome> {
  try {
    return await send();
  } catch (error) {
    return { delivered: false, error: errorKind(error) };
  }
}

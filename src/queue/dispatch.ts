import type { ChangeListener } from "../events/handlers";
import { log } from "../log";
import { notificationListener } from "../notify/outbox";
import { consumeClinicDeliveries, consumeClinicDeliveryDeadLetters } from "./clinic-deliveries-consumer";
import { consumeDeadLetters } from "./dead-letter-consumer";
import { consumeEvents } from "./events-consumer";
import { consumeNotifications } from "./notifications-consumer";
import { consumeNotificationDeadLetters } from "./notifications-dead-letter-consumer";

/**
 * Queue names as declared in wrangler.toml; `batch.queue` carries them, with `-staging` or
 * `-production` at the end in those environments ({@link baseQueueName}).
 */
export const QUEUES = {
  events: "novamed-events",
  eventsDeadLetter: "novamed-events-dlq",
  notifications: "patient-notifications",
  notificationsDeadLetter: "patient-notifications-dlq",
  deliveries: "clinic-deliveries",
  deliveriesDeadLetter: "clinic-deliveries-dlq",
} as const;

/** What follows from entity changes: patient notifications. */
const changeListeners = (env: Env): ChangeListener[] => [notificationListener(env)];

/** A queue's name without the suffix its environment gives it (`novamed-events-staging` → `novamed-events`). */
export function baseQueueName(name: string): string {
  return name.replace(/-(staging|production)$/, "");
}

/** The Worker's `queue` handler: one consumer per queue. */
export async function queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (baseQueueName(batch.queue)) {
    case QUEUES.events:
      return consumeEvents(batch, env, { listeners: changeListeners(env) });
    case QUEUES.eventsDeadLetter:
      return consumeDeadLetters(batch, env, { listeners: changeListeners(env) });
    case QUEUES.notifications:
      return consumeNotifications(batch, env);
    case QUEUES.notificationsDeadLetter:
      return consumeNotificationDeadLetters(batch, env);
    case QUEUES.deliveries:
      return consumeClinicDeliveries(batch, env);
    case QUEUES.deliveriesDeadLetter:
      return consumeClinicDeliveryDeadLetters(batch, env);
    default:
      // A queue bound here by mistake: retry rather than ack, so its messages follow that queue's
      // own retry and dead-letter settings instead of being lost, and say so loudly.
      log.error("no consumer for queue", { queue: batch.queue, messages: batch.messages.length });
      batch.retryAll();
  }
}

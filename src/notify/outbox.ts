import { CHANNELS, type Channel } from "../channels";
import { readNotificationRules } from "../config/notifications";
import type { OrderFacts } from "../db/entities";
import { insertOutboxRow, insertTrackingUpdateRow, type OutboxKey } from "../db/notification-outbox";
import type { EventType } from "../event-types";
import type { ChangeListener, EntityChange } from "../events/handlers";
import { log } from "../log";
import { enqueueAll } from "../queue/enqueue";
import { kindOf } from "./rules";

/** The channels each event type notifies on, or why they cannot be known (a ConfigError's text). */
type Rules = { rules: ReadonlyMap<EventType, readonly Channel[]> } | { unreadable: string };

function readRules(env: Env): Rules {
  const { settings: rules, problem } = readNotificationRules.tryRead(env);
  return problem ? { unreadable: problem.message } : { rules };
}

/**
 * Patient notifications, hung off the consumer's change seam. For each applied event that a rule
 * names, one outbox row per channel is written in the same `db.batch` as the state change; after
 * the commit, one send job per row goes to the `patient-notifications` queue. If that enqueue fails,
 * the rows stay `pending` and the sweep (cron) enqueues them later: nothing is lost.
 *
 * Only `NOTIFICATION_RULES` is read here, and a malformed value never stops a state update: every
 * change then gets a `held` row per channel with the reason (which messages are wanted cannot be
 * known), and once the rules are fixed, `POST /admin/notifications/replay` releases them to the
 * sender, which suppresses the ones the fixed rules do not want.
 */
export function notificationListener(env: Env): ChangeListener {
  const read = readRules(env);
  if ("unreadable" in read)
    log.error("notification rules unreadable; holding notifications", { reason: read.unreadable });
  const channelsOf = (eventType: EventType) => ("rules" in read ? (read.rules.get(eventType) ?? []) : CHANNELS);
  const heldReason = "unreadable" in read ? read.unreadable : null;
  // An order event carrying a tracking number may need a tracking update on the shipping channels.
  const trackingOf = (change: EntityChange) => {
    const tracking = change.write.kind === "order" ? (change.write.facts as OrderFacts).tracking_number : null;
    return typeof tracking === "string" && tracking !== "" ? tracking : null;
  };
  const channelsFor = (change: EntityChange): readonly Channel[] => {
    const channels = new Set(channelsOf(change.eventType));
    if (trackingOf(change) !== null) for (const channel of channelsOf("order:shipped")) channels.add(channel);
    return [...channels];
  };
  return {
    statements(change, guard, db) {
      const intent = {
        eventId: change.write.eventId,
        patientId: change.write.patientId,
        entityKind: change.write.kind,
        entityId: change.write.entityId,
      };
      const tracking = trackingOf(change);
      return [
        ...channelsOf(change.eventType).map((channel) =>
          insertOutboxRow(db, { ...intent, channel, kind: kindOf(change.eventType) }, guard, heldReason),
        ),
        // After the status rows, so an event's own shipping row is never mistaken for an earlier one.
        ...(tracking === null
          ? []
          : channelsOf("order:shipped").map((channel) =>
              insertTrackingUpdateRow(db, { ...intent, channel }, tracking, guard, heldReason),
            )),
      ];
    },
    async afterCommit(committed, workerEnv) {
      if (heldReason !== null) return;
      const jobs: OutboxKey[] = committed.flatMap((change) =>
        channelsFor(change).map((channel) => ({ event_id: change.write.eventId, channel })),
      );
      await enqueueSendJobs(workerEnv, jobs);
    },
  };
}

/**
 * Sends jobs to the notification queue in chunks Queues accept ({@link enqueueAll}); failures are
 * logged and left to the sweep. Returns how many were enqueued.
 */
export async function enqueueSendJobs(env: Env, jobs: readonly OutboxKey[], delaySeconds?: number): Promise<number> {
  const result = await enqueueAll(env.NOTIFICATIONS, jobs, (body) => ({ body, delaySeconds }));
  for (const error of result.errors) {
    log.error("notification enqueue failed; the sweep will retry", { jobs: error.messages, error: error.error });
  }
  return result.sent.length;
}

import { Hono } from "hono";
import { reopenNotification } from "../../db/notification-outbox";
import { audited, setAuditDetail } from "../../http/audit";
import { SENDABLE_SUPPRESSIONS } from "../../notify/explanations";
import { enqueueSendJobs } from "../../notify/outbox";
import { Notice, renderPage } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";

/**
 * `POST /console/notifications/:notification_id/send`: an operator sends a held or cap-suppressed
 * notification once its cause is fixed (viewers get 403 from the console's role check; CSRF as on
 * every POST). The row goes back to `pending` and its send job is enqueued; the sender decides it
 * afresh, so a cap still reached or a provider still unconfigured suppresses or holds it again.
 * Audited as `notification.send`.
 */
export const notificationSend = new Hono<ConsoleApp>();

notificationSend.post(
  "/:notification_id/send",
  audited("notification.send", "notification", "notification_id"),
  async (c) => {
    const job = await reopenNotification(
      c.env.DB,
      scopeOf(c),
      c.req.param("notification_id"),
      SENDABLE_SUPPRESSIONS,
      c.get("now").toISOString(),
    );
    if (!job) {
      return renderPage(
        c,
        "Notification not sent",
        <Notice kind="error">
          No held or cap-suppressed notification has this id (it may have been sent or changed meanwhile).
        </Notice>,
        409,
      );
    }
    // A failed enqueue leaves the row pending: the notification sweep enqueues it within minutes.
    const enqueued = await enqueueSendJobs(c.env, [job]);
    setAuditDetail(c, { replayed: 1, enqueued });
    return c.redirect(`/console/events/${encodeURIComponent(job.event_id)}?sent=${job.channel}`, 303);
  },
);

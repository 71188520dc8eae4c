import { Hono } from "hono";
import { CHANNELS } from "../../channels";
import { listNotifications, NOTIFICATION_STATUSES } from "../../db/lists";
import { optionalFormText } from "../form-fields";
import { StatusBadge, Time } from "../layout";
import type { ConsoleApp } from "../types";
import { addListPage, ChoiceFilter, IdLink, optionalChoice } from "./list-page";

/**
 * `/console/notifications`: every message newest first, 50 a page; filters status, reason (the stable
 * code a held, suppressed or failed row records, e.g. `daily_cap`), channel, kind, time range and
 * clinic. No message body is shown; the rows name patients' messages, so the view is audited
 * (`notification.list`).
 */
export const notificationList = new Hono<ConsoleApp>();

addListPage(notificationList, {
  path: "/console/notifications",
  action: "notification.list",
  title: "Notifications",
  timeLabel: "Created",
  fields: {
    status: optionalChoice(NOTIFICATION_STATUSES),
    reason: optionalFormText(100),
    channel: optionalChoice(CHANNELS),
    kind: optionalFormText(100),
  },
  controls: (filters) => (
    <>
      <ChoiceFilter label="Status" name="status" values={NOTIFICATION_STATUSES} chosen={filters.status} />
      <label>
        Reason
        <input type="text" name="reason" value={filters.reason ?? ""} placeholder="daily_cap" size={16} />
      </label>
      <ChoiceFilter label="Channel" name="channel" values={CHANNELS} chosen={filters.channel} />
      <label>
        Kind
        <input type="text" name="kind" value={filters.kind ?? ""} placeholder="order_shipped" size={18} />
      </label>
    </>
  ),
  read: (c, scope, { status, reason, channel, kind }, query) =>
    listNotifications(c.env.DB, scope, { ...query, status, reason, channel, kind }),
  idOf: (row) => row.notification_id,
  columns: (timeZone) => [
    { header: "Created", cell: (row) => <Time iso={row.created_at} timeZone={timeZone} /> },
    { header: "Notification", class: "mono", cell: (row) => row.notification_id },
    { header: "Channel", cell: (row) => row.channel },
    { header: "Kind", class: "mono", cell: (row) => row.kind },
    { header: "Status", cell: (row) => <StatusBadge status={row.status} /> },
    { header: "Reason or error", cell: (row) => row.error ?? "" },
    {
      header: "Event",
      cell: (row) => <IdLink href={`/console/events/${encodeURIComponent(row.event_id)}`} id={row.event_id} />,
    },
  ],
});

import { Hono } from "hono";
import { readNotificationSettings } from "../../config/notifications";
import { ConfigError } from "../../config/read";
import { readWebhookConfig } from "../../config/webhook";
import { EVENT_STATUSES, type EventStatus, eventStats } from "../../db/events";
import { notificationStats } from "../../db/notification-views";
import { ATTENTION_STATUSES, type HourlyStatusCount, readOverview } from "../../db/overview";
import { rejectionSummary } from "../../db/rejections";
import { coversClinic, narrowedTo } from "../../db/scope";
import { explainNotification } from "../../notify/explanations";
import { localDate } from "../../time-zone";
import { type ChartBar, StatusChart } from "../chart";
import { ClinicFilter, clinicChoices } from "../clinic-filter";
import { clinicTimeZone } from "../clinic-time-zone";
import { formatAge } from "../format";
import { renderPage, StatusBadge, TimeAgo } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";

const HOUR_MS = 60 * 60 * 1000;
/** Notification statuses highlighted on the overview: nothing will send them without a person. */
const NOTIFICATION_ATTENTION = new Set(["held", "failed"]);

/** The overview's breakdowns of messages nothing will send without a person, or a rule chose not to send. */
const REASON_CARDS = [
  { status: "held", id: "held-reasons", title: "Held notifications, by reason" },
  { status: "suppressed", id: "suppressed-reasons", title: "Suppressed notifications, by reason" },
] as const;

/** The UTC hour key (`YYYY-MM-DDTHH`) of an instant, as `readOverview` groups them. */
function hourKey(instant: Date): string {
  return instant.toISOString().slice(0, 13);
}

function addCounts(target: ChartBar["counts"], row: HourlyStatusCount): void {
  target[row.status] = (target[row.status] ?? 0) + row.count;
}

/** The 24 hours ending with the current one, one bar each, ticked every 6 clinic-local hours. */
export function hourlyBars(hourly: HourlyStatusCount[], now: Date, timeZone: string): ChartBar[] {
  const byHour = new Map<string, ChartBar["counts"]>();
  for (const row of hourly) {
    const counts = byHour.get(row.hour) ?? {};
    addCounts(counts, row);
    byHour.set(row.hour, counts);
  }
  const hourFormat = new Intl.DateTimeFormat("en-US", { timeZone, hour: "2-digit", hourCycle: "h23" });
  return Array.from({ length: 24 }, (_, index) => {
    const start = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - (23 - index) * HOUR_MS);
    const localHour = hourFormat.format(start);
    return {
      label: `${localDate(start.getTime(), timeZone)} ${localHour}:00`,
      tick: index % 6 === 0 ? `${localHour}h` : "",
      counts: byHour.get(hourKey(start)) ?? {},
    };
  });
}

/** The clinic-local days of the last 7 × 24 hours, one bar each (the oldest day may be partial). */
export function dailyBars(hourly: HourlyStatusCount[], now: Date, timeZone: string): ChartBar[] {
  const days = new Map<string, ChartBar["counts"]>();
  for (let index = 7 * 24 - 1; index >= 0; index -= 1) {
    days.set(localDate(now.getTime() - index * HOUR_MS, timeZone), {});
  }
  for (const row of hourly) {
    const counts = days.get(localDate(Date.parse(`${row.hour}:00:00Z`), timeZone));
    if (counts) addCounts(counts, row);
  }
  return [...days].map(([day, counts]) => ({ label: day, tick: day.slice(5), counts }));
}

function totals(bars: ChartBar[]): Partial<Record<EventStatus, number>> {
  const sum: Partial<Record<EventStatus, number>> = {};
  for (const bar of bars) {
    for (const status of EVENT_STATUSES) {
      if (bar.counts[status]) sum[status] = (sum[status] ?? 0) + (bar.counts[status] ?? 0);
    }
  }
  return sum;
}

/** `CLINIC_NAME`, the name of a clinic without its own; "Clinic" while a notification setting is broken (the page still shows). */
function defaultClinicName(env: Env): string {
  try {
    return readNotificationSettings(env).clinicName;
  } catch (error) {
    if (error instanceof ConfigError) return "Clinic";
    throw error;
  }
}

/** `/console`: a card per clinic of the identity, recent events by status, what needs attention. */
export const overview = new Hono<ConsoleApp>();

overview.get("/", async (c) => {
  const now = c.get("now");
  const timeZone = clinicTimeZone(c.env);
  const clinicIds = [...readWebhookConfig(c.env).clinicIds];
  // `?clinic=`: every figure of one clinic of the identity (the clinic filter; links below keep it).
  const chosen = c.req.query("clinic")?.trim().toLowerCase() || undefined;
  const scope = narrowedTo(scopeOf(c), chosen);
  // A clinic outside the identity's shows nothing (an empty scope), and its id is not echoed in links.
  const linked = chosen && coversClinic(scopeOf(c), chosen) ? chosen : undefined;
  const withClinic = (path: string) =>
    linked ? `${path}${path.includes("?") ? "&" : "?"}clinic=${encodeURIComponent(linked)}` : path;
  // Four round trips whatever the table sizes: the admin API's two stats reads, one overview batch
  // (with a card per clinic) and the refused deliveries of the last 24 hours (GET /admin/rejections' table).
  const since = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - (7 * 24 - 1) * HOUR_MS).toISOString();
  const [events, notifications, activity, rejected] = await Promise.all([
    eventStats(c.env.DB, scope),
    notificationStats(c.env.DB, scope),
    readOverview(c.env.DB, scope, clinicIds, since),
    rejectionSummary(c.env.DB, scope, new Date(now.getTime() - 24 * HOUR_MS)),
  ]);
  const openAlerts = activity.open_alerts;
  const lastDay = hourlyBars(activity.hourly, now, timeZone);
  const lastWeek = dailyBars(activity.hourly, now, timeZone);
  const windows = [
    { name: "Last 24 hours", totals: totals(lastDay) },
    { name: "Last 7 days", totals: totals(lastWeek) },
  ];
  const defaultName = defaultClinicName(c.env);
  const notificationStatuses = Object.keys(notifications.by_status).sort();

  return renderPage(
    c,
    "Overview",
    <>
      <form method="get" action="/console" class="filters" aria-label="Filter the overview by clinic">
        <ClinicFilter clinics={clinicChoices(c)} chosen={chosen} />
        <button type="submit">Apply</button>
      </form>
      <h2>Needs attention</h2>
      <div class="cards">
        <a id="open-alerts" class={`card${openAlerts ? " attention" : ""}`} href={withClinic("/console/alerts")}>
          <strong>{openAlerts}</strong> open alert{openAlerts === 1 ? "" : "s"}
          <span class="window">now</span>
        </a>
        {ATTENTION_STATUSES.map((status) => (
          <a
            class={`card${events.by_status[status] ? " attention" : ""}`}
            href={withClinic(`/console/events?status=${status}`)}
          >
            <strong>{events.by_status[status] ?? 0}</strong> <StatusBadge status={status} /> events
            <span class="window">all stored events</span>
          </a>
        ))}
        <div id="rejections" class={`card${rejected.count ? " attention" : ""}`}>
          Webhook deliveries refused
          <strong>{rejected.count}</strong>
          <span class="window">last 24 hours</span>
          {rejected.last_reason ? (
            <span>
              last: <code>{rejected.last_reason}</code> <TimeAgo iso={rejected.last_at} timeZone={timeZone} now={now} />
            </span>
          ) : null}
        </div>
        <div class={`card${activity.oldest_pending_at ? " attention" : ""}`}>
          Oldest pending notification
          <strong>{activity.oldest_pending_at ? formatAge(activity.oldest_pending_at, now) : "none waiting"}</strong>
          <span class="window">now</span>
        </div>
        {REASON_CARDS.map(({ status, id, title }) => {
          const byReason = status === "held" ? notifications.held_by_reason : notifications.suppressed_by_reason;
          const count = Object.values(byReason).reduce((sum, n) => sum + n, 0);
          return (
            <div id={id} class={`card${status === "held" && count ? " attention" : ""}`}>
              {title}
              <strong>{count}</strong>
              <span class="window">all stored notifications</span>
              {count > 0 && (
                <ul class="reasons">
                  {Object.entries(byReason)
                    .sort(([, a], [, b]) => b - a)
                    .map(([reason, n]) => (
                      <li data-reason={reason}>
                        {n} — {explainNotification({ status, error: reason, channel: null })?.sentence ?? reason} (
                        <code>{reason}</code>)
                      </li>
                    ))}
                </ul>
              )}
            </div>
          );
        })}
      </div>

      <h2>Clinics</h2>
      <div class="cards" id="clinic-cards">
        {activity.clinics.map((clinic) => {
          const name = clinic.name ?? defaultName;
          const only = (path: string) =>
            `${path}${path.includes("?") ? "&" : "?"}clinic=${encodeURIComponent(clinic.clinic_id)}`;
          return (
            <section
              class={`card${clinic.attention_events || clinic.open_alerts ? " attention" : ""}`}
              data-clinic={clinic.clinic_id}
              aria-label={`Clinic ${name}`}
            >
              <a href={only("/console")}>{name}</a>
              <span class="window">now</span>
              <span class="mono muted">{clinic.clinic_id}</span>
              <span>
                Last event: <TimeAgo iso={clinic.last_received_at} timeZone={timeZone} now={now} />
              </span>
              <a href={only("/console/events")}>
                <strong>{clinic.attention_events}</strong> events need attention
              </a>
              <a href={only("/console/alerts")}>
                <strong>{clinic.open_alerts}</strong> open alert{clinic.open_alerts === 1 ? "" : "s"}
              </a>
            </section>
          );
        })}
      </div>

      <h2>Events received</h2>
      <StatusChart
        id="chart-24h"
        title="Events received in the last 24 hours, per hour, by status"
        bars={lastDay}
        barWidth={18}
        xLabel={`hour (${timeZone})`}
      />
      <StatusChart
        id="chart-7d"
        title="Events received in the last 7 days, per day, by status"
        bars={lastWeek}
        barWidth={40}
        xLabel={`day (${timeZone})`}
      />
      <ul class="legend" aria-label="Chart colours">
        {EVENT_STATUSES.map((status) => (
          <li>
            <StatusBadge status={status} />
          </li>
        ))}
      </ul>
      <table id="event-totals">
        <caption class="muted">Events by status (the charts' numbers, and all stored events).</caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            {windows.map((window) => (
              <th scope="col" class="number">
                {window.name}
              </th>
            ))}
            <th scope="col" class="number">
              All time
            </th>
          </tr>
        </thead>
        <tbody>
          {EVENT_STATUSES.map((status) => (
            <tr>
              <th scope="row">
                <a href={withClinic(`/console/events?status=${status}`)}>
                  <StatusBadge status={status} />
                </a>
              </th>
              {windows.map((window) => (
                <td class="number">{window.totals[status] ?? 0}</td>
              ))}
              <td class="number" data-status={status}>
                {events.by_status[status] ?? 0}
              </td>
            </tr>
          ))}
          <tr>
            <th scope="row">Total</th>
            {windows.map((window) => (
              <td class="number">{Object.values(window.totals).reduce((sum, count) => sum + (count ?? 0), 0)}</td>
            ))}
            <td class="number" data-status="total">
              {events.total}
            </td>
          </tr>
        </tbody>
      </table>

      <h2>Patient notifications</h2>
      <table id="notification-totals" tabindex={0}>
        <caption class="muted">Notifications by status (all stored notifications).</caption>
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col" class="number">
              Notifications
            </th>
          </tr>
        </thead>
        <tbody>
          {notificationStatuses.length === 0 && (
            <tr>
              <td colspan={2} class="muted">
                No notifications yet.
              </td>
            </tr>
          )}
          {notificationStatuses.map((status) => (
            <tr class={NOTIFICATION_ATTENTION.has(status) ? "attention" : undefined}>
              <th scope="row">
                <StatusBadge status={status} />
                {NOTIFICATION_ATTENTION.has(status) && <span> needs attention</span>}
              </th>
              <td class="number" data-status={status}>
                {notifications.by_status[status as keyof typeof notifications.by_status] ?? 0}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>,
  );
});

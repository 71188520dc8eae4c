import { Hono } from "hono";
import { z } from "zod";
import { readWatchSettings } from "../../config/watch";
import { type AlertRow, acknowledgeAlert, listAlerts } from "../../db/alerts";
import { narrowedTo } from "../../db/scope";
import { audited } from "../../http/audit";
import { encodePosition, readPosition } from "../../http/cursor";
import { explainAlertRule } from "../../notify/alert-explanations";
import { consoleLink } from "../../watch/alert-text";
import { ClinicFilter, clinicChoices } from "../clinic-filter";
import { clinicTimeZone } from "../clinic-time-zone";
import { optionalFormText } from "../form-fields";
import { formatAge } from "../format";
import { CsrfField, Notice, Pager, renderPage, Time } from "../layout";
import { mayOperate, scopeOf } from "../scope";
import type { ConsoleApp } from "../types";

const PAGE_SIZE = 50;

/**
 * The console's tabs: open alerts nobody has acknowledged, open ones someone has (they leave the open
 * list), and resolved ones.
 */
const TABS = ["open", "acknowledged", "resolved"] as const;
type Tab = (typeof TABS)[number];
const TAB_NAMES: Record<Tab, string> = { open: "Open", acknowledged: "Acknowledged", resolved: "Resolved" };

const filtersSchema = z.object({
  state: z.enum(TABS).default("open"),
  rule: optionalFormText(100),
  clinic: optionalFormText(64),
  cursor: z.string().max(400).optional(),
});

type Filters = z.infer<typeof filtersSchema>;

function listUrl(filters: { state: Tab; rule?: string; clinic?: string }, cursor?: string): string {
  const params = new URLSearchParams({ state: filters.state });
  if (filters.rule) params.set("rule", filters.rule);
  if (filters.clinic) params.set("clinic", filters.clinic);
  if (cursor) params.set("cursor", cursor);
  return `/console/alerts?${params}`;
}

/** Why the rule fired, the setting behind it and what to do (src/notify/explanations.ts). */
function RuleExplanation({ rule }: { rule: string }) {
  const explained = explainAlertRule(rule);
  return (
    <div class="reason">
      <p>
        {explained.sentence[0]?.toUpperCase()}
        {explained.sentence.slice(1)} ({explained.setting}).
      </p>
      <p class="muted">What to do: {explained.action}.</p>
    </div>
  );
}

/** Whether the watch can tell staff: the webhook and email (never their values), or the setting's problem. */
function AlertDelivery({ env }: { env: Env }) {
  let settings: ReturnType<typeof readWatchSettings>;
  try {
    settings = readWatchSettings(env);
  } catch {
    return (
      <p id="alert-delivery" class="notice notice-error">
        Alert delivery: the watch settings cannot be read, so nobody is told; see <code>GET /admin/health</code>.
      </p>
    );
  }
  const webhook = settings.webhookUrl !== null;
  const email = settings.emailTo.length > 0;
  return (
    <p id="alert-delivery" class={`notice ${webhook || email ? "notice-info" : "notice-error"}`}>
      Alert delivery: webhook <strong>{webhook ? "configured" : "not configured"}</strong> (
      <code>ALERT_WEBHOOK_URL</code>), email{" "}
      <strong>
        {email
          ? `configured (${settings.emailTo.length} address${settings.emailTo.length === 1 ? "" : "es"})`
          : "not configured"}
      </strong>{" "}
      (<code>ALERT_EMAIL_TO</code>
      {email ? "" : ", or a clinic's alert_emails"}).
      {!webhook && !email && " Alerts show only here until one is set."}
    </p>
  );
}

function AlertTable({
  alerts,
  filters,
  timeZone,
  now,
  csrfToken,
  mayReadReplies,
}: {
  alerts: AlertRow[];
  filters: Filters;
  timeZone: string;
  now: Date;
  csrfToken: string;
  /** Operators and admins: a `patient_replied` alert links to the reply's page (403 for a viewer). */
  mayReadReplies: boolean;
}) {
  if (alerts.length === 0) return <p class="muted">No {TAB_NAMES[filters.state].toLowerCase()} alerts.</p>;
  return (
    <table id="alerts">
      <caption class="muted">Newest first; times in {timeZone}.</caption>
      <thead>
        <tr>
          <th scope="col">Rule</th>
          <th scope="col">Target</th>
          <th scope="col">Clinic</th>
          <th scope="col">In this state for</th>
          <th scope="col">Opened</th>
          {filters.state === "resolved" && <th scope="col">Resolved</th>}
          <th scope="col">Acknowledged</th>
        </tr>
      </thead>
      <tbody>
        {alerts.map((alert) => (
          <tr data-alert-id={alert.alert_id}>
            <td>
              <code>{alert.rule}</code>
              <RuleExplanation rule={alert.rule} />
            </td>
            <td>
              {alert.target_type}{" "}
              {alert.target_type === "inbound_reply" && !mayReadReplies ? (
                // A patient's own words are for operators: a viewer sees that a reply came, not a way to it.
                <span class="mono">{alert.target_id}</span>
              ) : (
                <a class="mono" href={consoleLink(alert, null)}>
                  {alert.target_id}
                </a>
              )}
            </td>
            <td class="mono">{alert.clinic_id ?? ""}</td>
            <td>{formatAge(alert.since, alert.resolved_at ? new Date(alert.resolved_at) : now)}</td>
            <td>
              <Time iso={alert.opened_at} timeZone={timeZone} />
            </td>
            {filters.state === "resolved" && (
              <td>
                <Time iso={alert.resolved_at} timeZone={timeZone} />
              </td>
            )}
            <td>
              {alert.acknowledged_by ? (
                <>by {alert.acknowledged_by}</>
              ) : (
                <form method="post" action={`/console/alerts/${encodeURIComponent(alert.alert_id)}/ack`}>
                  <CsrfField token={csrfToken} />
                  <button type="submit" aria-label={`Acknowledge the ${alert.rule} alert on ${alert.target_id}`}>
                    Acknowledge
                  </button>
                </form>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `/console/alerts`: the lifecycle watch's open or resolved alerts, acknowledged with a CSRF-protected form. */
export const alertsPage = new Hono<ConsoleApp>();

alertsPage.get("/", async (c) => {
  const timeZone = clinicTimeZone(c.env);
  const parsed = filtersSchema.safeParse(c.req.query());
  const after = parsed.success && parsed.data.cursor ? readPosition(parsed.data.cursor) : undefined;
  if (!parsed.success || after === null) {
    return renderPage(
      c,
      "Alerts",
      <Notice kind="error">These filters are not valid; choose open or resolved alerts.</Notice>,
      400,
    );
  }
  const filters = parsed.data;
  const found = await listAlerts(c.env.DB, narrowedTo(scopeOf(c), filters.clinic), {
    state: filters.state === "resolved" ? "resolved" : "open",
    acknowledged: filters.state === "resolved" ? undefined : filters.state === "acknowledged",
    rule: filters.rule,
    limit: PAGE_SIZE,
    after,
  });
  const page = found.rows;
  const next = found.next && listUrl(filters, encodePosition(found.next));
  return renderPage(
    c,
    "Alerts",
    <>
      <AlertDelivery env={c.env} />
      <nav class="tabs" aria-label="Alert state">
        {TABS.map((state) => (
          <a
            href={listUrl({ state, rule: filters.rule, clinic: filters.clinic })}
            aria-current={filters.state === state ? "page" : undefined}
          >
            {TAB_NAMES[state]}
          </a>
        ))}
        {filters.rule && <a href={listUrl({ state: filters.state, clinic: filters.clinic })}>All rules</a>}
      </nav>
      <form method="get" action="/console/alerts" class="filters" aria-label="Filter alerts by clinic">
        <input type="hidden" name="state" value={filters.state} />
        {filters.rule && <input type="hidden" name="rule" value={filters.rule} />}
        <ClinicFilter clinics={clinicChoices(c)} chosen={filters.clinic} />
        <button type="submit">Apply</button>
      </form>
      <AlertTable
        alerts={page}
        filters={filters}
        timeZone={timeZone}
        now={c.get("now")}
        csrfToken={c.get("csrfToken")}
        mayReadReplies={mayOperate(c)}
      />
      <Pager first={filters.cursor ? listUrl(filters) : null} next={next} />
    </>,
  );
});

alertsPage.post("/:alert_id/ack", audited("alert.ack", "alert", "alert_id"), async (c) => {
  const alert = await acknowledgeAlert(c.env.DB, scopeOf(c), c.req.param("alert_id"), c.get("actor"), c.get("now"));
  if (!alert) return renderPage(c, "Alert not found", <Notice kind="error">No alert has this id.</Notice>, 404);
  // An acknowledged open alert leaves the open list: back to it, where the next one waits.
  return c.redirect(listUrl({ state: alert.state === "resolved" ? "resolved" : "open" }), 303);
});

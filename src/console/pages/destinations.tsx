import { Hono } from "hono";
import type { Child } from "hono/jsx";
import { type AttemptRow, type DeliveryRow, type DeliveryStatus, listDeliveries } from "../../db/deliveries";
import { listDestinations } from "../../db/destinations";
import { destinationView } from "../../forwarding/destinations";
import { audited } from "../../http/audit";
import { clinicTimeZone } from "../clinic-time-zone";
import { Notice, Pager, renderPage, StatusBadge, Time, TimeAgo } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { DeliveryReplayForms, deliveriesQuery, deliveriesUrl, forDestination, replayNotice } from "./delivery-replay";

const PAGE_SIZE = 50;
const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "delivered", "failed"];

type DestinationView = ReturnType<typeof destinationView>;

/** What the list's columns and a destination page's summary show of a destination, in order. */
const FACTS: {
  label: string;
  number?: boolean;
  show: (view: DestinationView, timeZone: string, now: Date) => Child;
}[] = [
  { label: "Clinic", show: (view) => <span class="mono">{view.clinic_id}</span> },
  { label: "State", show: (view) => <StatusBadge status={view.state} /> },
  {
    label: "Last success",
    show: (view, timeZone, now) => <TimeAgo iso={view.last_success_at} timeZone={timeZone} now={now} />,
  },
  { label: "Failure streak", number: true, show: (view) => String(view.failure_streak) },
  { label: "Next probe", show: (view, timeZone) => <Time iso={view.next_probe_at} timeZone={timeZone} /> },
  { label: "URL", show: (view) => <span class="mono">{view.url}</span> },
  { label: "Events", show: (view) => <span class="mono">{view.events.join(", ")}</span> },
];

/**
 * `/console/destinations` and `/console/destinations/:id`: where each clinic's own systems hear of
 * changes (docs/forwarding.md), admins only (src/console/scope.ts), the identity's clinics only;
 * audited as the admin API's reads. Replay: delivery-replay.tsx.
 */
export const destinationsPage = new Hono<ConsoleApp>();

destinationsPage.get("/", audited("destination.list", "destination", { fixed: "*" }), async (c) => {
  const timeZone = clinicTimeZone(c.env);
  const now = c.get("now");
  const views = (await listDestinations(c.env.DB, scopeOf(c))).map((destination) => destinationView(destination, now));
  const cellClass = (number?: boolean) => (number ? "number" : undefined);
  return renderPage(
    c,
    "Destinations",
    <>
      <p class="muted">
        Each clinic's endpoints that hear of changes (set through <code>PUT /admin/destinations/:id</code>; see
        docs/forwarding.md).
      </p>
      <table id="destinations">
        <caption class="muted">{views.length === 0 ? "No destinations." : `Times in ${timeZone}.`}</caption>
        <thead>
          <tr>
            <th scope="col">Destination</th>
            {FACTS.map((fact) => (
              <th scope="col" class={cellClass(fact.number)}>
                {fact.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {views.map((view) => (
            <tr data-destination-id={view.destination_id}>
              <th scope="row">
                <a class="mono" href={deliveriesUrl(view.destination_id, {})}>
                  {view.destination_id}
                </a>
              </th>
              {FACTS.map((fact) => (
                <td class={cellClass(fact.number)}>{fact.show(view, timeZone, now)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>,
  );
});

function StatusFilter({ destinationId, status }: { destinationId: string; status: string | undefined }) {
  return (
    <form
      method="get"
      action={`/console/destinations/${encodeURIComponent(destinationId)}`}
      class="filters"
      aria-label="Filter deliveries"
    >
      <label>
        Status
        <select name="status">
          <option value="">any</option>
          {DELIVERY_STATUSES.map((value) => (
            <option value={value} selected={status === value}>
              {value}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">Apply</button>
    </form>
  );
}

/** Labels shown as numbers, right-aligned; "Select" heads the checkboxes, for screen readers only. */
const NUMBER_COLUMNS = new Set(["Attempt", "Latency", "Change"]);

function ColumnHeads({ labels }: { labels: string[] }) {
  return (
    <thead>
      <tr>
        {labels.map((label) => (
          <th scope="col" class={NUMBER_COLUMNS.has(label) ? "number" : undefined}>
            {label === "Select" ? <span class="visually-hidden">{label}</span> : label}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** One delivery's attempts: time, HTTP status, latency, error class and the answer's first 256 bytes (escaped). */
function Attempts({ attempts, timeZone }: { attempts: AttemptRow[]; timeZone: string }) {
  if (attempts.length === 0) return <span class="muted">none yet</span>;
  return (
    <table class="attempts">
      <ColumnHeads labels={["Attempt", "Time", "HTTP", "Latency", "Error class", "Answer (first 256 bytes)"]} />
      <tbody>
        {attempts.map((attempt) => (
          <tr>
            <td class="number">{attempt.attempt}</td>
            <td>
              <Time iso={attempt.at} timeZone={timeZone} />
            </td>
            <td>{attempt.http_status ?? "—"}</td>
            <td class="number">{attempt.latency_ms} ms</td>
            <td>{attempt.error_class ?? ""}</td>
            <td>
              <code>{attempt.response_excerpt ?? ""}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DeliveryRowView({ row, attempts, timeZone }: { row: DeliveryRow; attempts: AttemptRow[]; timeZone: string }) {
  const selectable = row.status !== "pending";
  return (
    <tr data-delivery-id={row.delivery_id}>
      <td>
        {selectable && (
          <label class="select">
            <input type="checkbox" name="delivery_id" value={row.delivery_id} />
            <span class="visually-hidden">Select {row.delivery_id}</span>
          </label>
        )}
      </td>
      <td class="number">{row.change_sequence}</td>
      <td class="mono">{row.change_id}</td>
      <td>
        <StatusBadge status={row.status} />
      </td>
      <td>{row.error ?? ""}</td>
      <td>
        <Time iso={row.status === "pending" ? row.next_attempt_at : row.delivered_at} timeZone={timeZone} />
      </td>
      <td>
        <Attempts attempts={attempts} timeZone={timeZone} />
      </td>
    </tr>
  );
}

destinationsPage.get(
  "/:destination_id",
  audited("destination.deliveries", "destination", "destination_id"),
  forDestination(async (c, destination) => {
    const timeZone = clinicTimeZone(c.env);
    const now = c.get("now");
    const id = destination.destination_id;
    const view = destinationView(destination, now);
    const parsed = deliveriesQuery.safeParse(c.req.query());
    if (!parsed.success)
      return renderPage(
        c,
        `Destination ${id}`,
        <>
          <StatusFilter destinationId={id} status={undefined} />
          <Notice kind="error">These filters are not valid; choose a status and start from the first page.</Notice>
        </>,
        400,
      );
    const query = parsed.data;
    const { deliveries, attempts } = await listDeliveries(c.env.DB, id, {
      status: query.status,
      after: Number(query.after ?? "0"),
      limit: PAGE_SIZE + 1,
    });
    const page = deliveries.slice(0, PAGE_SIZE);
    const last = page.at(-1);
    const next =
      deliveries.length > PAGE_SIZE && last
        ? deliveriesUrl(id, { status: query.status, after: String(last.change_sequence) })
        : null;
    const notice = replayNotice(c.req.query());

    return renderPage(
      c,
      `Destination ${id}`,
      <>
        {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
        <dl class="facts">
          {FACTS.map((fact) => (
            <>
              <dt>{fact.label}</dt>
              <dd>{fact.show(view, timeZone, now)}</dd>
            </>
          ))}
        </dl>
        <h2>Deliveries</h2>
        <StatusFilter destinationId={id} status={query.status} />
        <DeliveryReplayForms destinationId={id} query={query} csrfToken={c.get("csrfToken")}>
          <table id="deliveries">
            <caption class="muted">
              {page.length === 0 ? "No deliveries match." : `In change order; times in ${timeZone}.`}
            </caption>
            <ColumnHeads
              labels={[
                "Select",
                "Change",
                "Change id (webhook-id)",
                "Status",
                "Error",
                "Next try / delivered",
                "Attempts",
              ]}
            />
            <tbody>
              {page.map((row) => (
                <DeliveryRowView
                  row={row}
                  attempts={attempts.filter((attempt) => attempt.delivery_id === row.delivery_id)}
                  timeZone={timeZone}
                />
              ))}
            </tbody>
          </table>
        </DeliveryReplayForms>
        <Pager first={query.after ? deliveriesUrl(id, { status: query.status }) : null} next={next} />
      </>,
    );
  }),
);

import { Hono } from "hono";
import { searchEventRows } from "../../db/event-search";
import { EVENT_STATUSES } from "../../db/events";
import { narrowedTo } from "../../db/scope";
import { auditedSearch } from "../../http/audit";
import { encodePosition } from "../../http/cursor";
import { ClinicFilter, clinicChoices } from "../clinic-filter";
import { clinicTimeZone } from "../clinic-time-zone";
import { Notice, Pager, renderPage, StatusBadge, Time } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { BulkReplayActions, bulkReplayNotice, isSelectable, SelectCheckbox } from "./event-bulk-replay";
import { type Filters, filtersSchema, listUrl, resolveFilters } from "./event-filters";

const PAGE_SIZE = 50;

function FilterForm({ filters, clinics }: { filters: Filters; clinics: readonly string[] }) {
  return (
    <form method="get" action="/console/events" class="filters" aria-label="Filter events">
      <label>
        Search by id
        <input
          type="search"
          name="q"
          value={filters.q ?? ""}
          placeholder="event, order, request, refill or patient id"
          size={36}
        />
      </label>
      <label>
        Status
        <select name="status">
          <option value="">any</option>
          {EVENT_STATUSES.map((status) => (
            <option value={status} selected={filters.status === status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label>
        Type
        <input type="text" name="type" value={filters.type ?? ""} placeholder="order:shipped" size={20} />
      </label>
      <label>
        Received from (clinic time)
        <input type="datetime-local" name="from" value={filters.from ?? ""} />
      </label>
      <label>
        Received before (clinic time)
        <input type="datetime-local" name="to" value={filters.to ?? ""} />
      </label>
      <ClinicFilter clinics={clinics} chosen={filters.clinic} />
      <button type="submit">Apply</button>
      <a href="/console/events">Clear</a>
    </form>
  );
}

/**
 * `/console/events`: filtered, searchable, newest first, one page of 50 at a time; replayable rows can
 * be selected and re-driven, or everything matching a replayable status (see event-bulk-replay.tsx).
 */
export const eventList = new Hono<ConsoleApp>();

eventList.get("/", auditedSearch("event.search", "q", "not_audited"), async (c) => {
  const timeZone = clinicTimeZone(c.env);
  const parsed = filtersSchema.safeParse(c.req.query());
  const filters: Filters = parsed.success ? parsed.data : {};
  const resolved = parsed.success ? resolveFilters(filters, timeZone) : null;
  if (!resolved) {
    return renderPage(
      c,
      "Events",
      <>
        <FilterForm filters={filters} clinics={clinicChoices(c)} />
        <Notice kind="error">These filters are not valid; check the status, dates and search text.</Notice>
      </>,
      400,
    );
  }
  const { rows: page, next: nextPosition } = await searchEventRows(c.env.DB, narrowedTo(scopeOf(c), filters.clinic), {
    status: filters.status,
    type: filters.type,
    reference: filters.q,
    receivedFrom: resolved.receivedFrom,
    receivedBefore: resolved.receivedBefore,
    limit: PAGE_SIZE,
    after: resolved.after,
  });
  const next = nextPosition && listUrl(filters, { cursor: encodePosition(nextPosition) });
  const notice = bulkReplayNotice(c.req.query());
  const anySelectable = page.some(isSelectable);

  return renderPage(
    c,
    "Events",
    <>
      {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
      <FilterForm filters={filters} clinics={clinicChoices(c)} />
      <form method="post" action="/console/events/replay" id="bulk-replay" aria-label="Replay events">
        <table id="events">
          <caption class="muted">
            {page.length === 0 ? "No events match." : `Newest first; times in ${timeZone}.`}
          </caption>
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">Select</span>
              </th>
              <th scope="col">Received</th>
              <th scope="col">Event</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col" class="number">
                Attempts
              </th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {page.map((row) => (
              <tr data-event-id={row.event_id}>
                <td>{isSelectable(row) && <SelectCheckbox eventId={row.event_id} />}</td>
                <td>
                  <Time iso={row.received_at} timeZone={timeZone} />
                </td>
                <td>
                  <a class="mono" href={`/console/events/${encodeURIComponent(row.event_id)}`}>
                    {row.event_id}
                  </a>
                </td>
                <td class="mono">{row.event_type}</td>
                <td>
                  <StatusBadge status={row.status} />
                </td>
                <td class="number">{row.attempts}</td>
                <td>{row.last_error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <BulkReplayActions filters={filters} csrfToken={c.get("csrfToken")} anySelectable={anySelectable} />
      </form>
      <Pager first={filters.cursor ? listUrl(filters) : null} next={next} />
    </>,
  );
});

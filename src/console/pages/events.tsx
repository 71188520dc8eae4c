import { Hono } from "hono";
import { z } from "zod";
import { readNotificationSettings } from "../../config/notifications";
import { searchEventRows } from "../../db/event-search";
import { EVENT_STATUSES, type EventStatus } from "../../db/events";
import { decodeEventCursor, encodeEventCursor } from "../../http/event-cursor";
import { wallClockToUtc } from "../format";
import { Notice, renderPage, StatusBadge, Time } from "../layout";
import type { ConsoleApp } from "../types";

const PAGE_SIZE = 50;

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .transform((value) => value || undefined)
    .optional();

const filtersSchema = z.object({
  status: z
    .union([z.literal(""), z.enum(EVENT_STATUSES as [EventStatus, ...EventStatus[]])])
    .transform((value) => value || undefined)
    .optional(),
  type: optionalText(100),
  q: optionalText(200),
  from: optionalText(16),
  to: optionalText(16),
  cursor: optionalText(400),
});

type Filters = z.infer<typeof filtersSchema>;

/** The list's URL for these filters (and a cursor), so links keep the filters. */
function listUrl(filters: Filters, cursor?: string): string {
  const params = new URLSearchParams();
  for (const key of ["status", "type", "q", "from", "to"] as const) {
    const value = filters[key];
    if (value) params.set(key, value);
  }
  if (cursor) params.set("cursor", cursor);
  const query = params.toString();
  return query ? `/console/events?${query}` : "/console/events";
}

function FilterForm({ filters }: { filters: Filters }) {
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
      <button type="submit">Apply</button>
      <a href="/console/events">Clear</a>
    </form>
  );
}

/** `/console/events`: filtered, searchable, newest first, one page of 50 at a time. */
export const eventList = new Hono<ConsoleApp>();

eventList.get("/", async (c) => {
  const timeZone = readNotificationSettings(c.env).clinicTimezone;
  const parsed = filtersSchema.safeParse(c.req.query());
  const filters: Filters = parsed.success ? parsed.data : {};
  const receivedFrom = filters.from ? wallClockToUtc(filters.from, timeZone) : undefined;
  const receivedBefore = filters.to ? wallClockToUtc(filters.to, timeZone) : undefined;
  const after = filters.cursor ? decodeEventCursor(filters.cursor) : undefined;
  if (!parsed.success || receivedFrom === null || receivedBefore === null || after === null) {
    return renderPage(
      c,
      "Events",
      <>
        <FilterForm filters={filters} />
        <Notice kind="error">These filters are not valid; check the status, dates and search text.</Notice>
      </>,
      400,
    );
  }
  const rows = await searchEventRows(c.env.DB, {
    status: filters.status,
    type: filters.type,
    reference: filters.q,
    receivedFrom,
    receivedBefore,
    limit: PAGE_SIZE,
    after,
  });
  const page = rows.slice(0, PAGE_SIZE);
  const last = page.at(-1);
  const next = rows.length > PAGE_SIZE && last ? listUrl(filters, encodeEventCursor(last)) : null;

  return renderPage(
    c,
    "Events",
    <>
      <FilterForm filters={filters} />
      <table id="events">
        <caption class="muted">
          {page.length === 0 ? "No events match." : `Newest first; times in ${timeZone}.`}
        </caption>
        <thead>
          <tr>
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
      <nav class="pager" aria-label="Pages">
        {filters.cursor && <a href={listUrl(filters)}>First page</a>}
        {next && (
          <a href={next} rel="next">
            Next page
          </a>
        )}
      </nav>
    </>,
  );
});

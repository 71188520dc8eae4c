import { Hono } from "hono";
import { searchEventRows } from "../../db/event-search";
import { EVENT_STATUSES, type EventRow } from "../../db/events";
import { type NotificationOutcome, notificationOutcomesOf } from "../../db/notification-views";
import { narrowedTo } from "../../db/scope";
import { EVENT_TYPES } from "../../event-types";
import { auditedSearch } from "../../http/audit";
import { encodePosition } from "../../http/cursor";
import { ClinicFilter, clinicChoices } from "../clinic-filter";
import { clinicTimeZone } from "../clinic-time-zone";
import { Notice, Pager, renderPage, StatusBadge, Time } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { parseIssues } from "./event";
import { BulkReplayActions, bulkReplayNotice, isSelectable, SelectCheckbox } from "./event-bulk-replay";
import { type Filters, filtersSchema, listUrl, resolveFilters } from "./event-filters";
import { ChoiceFilter } from "./list-page";
import { ENTITY_PAGES, EventCells, entityOfEvent, referencesOf } from "./shared";

const PAGE_SIZE = 50;

/** The notifications an event caused, one badge per channel (`sms: sent`), or a dash. */
function OutcomeCell({ outcomes }: { outcomes: NotificationOutcome[] }) {
  if (outcomes.length === 0) return <span class="muted">none</span>;
  return (
    <>
      {outcomes.map((outcome) => (
        <span class="outcome">
          {outcome.channel}: <StatusBadge status={outcome.status} />{" "}
        </span>
      ))}
    </>
  );
}

/** The first thing wrong with an event: its first validation issue, else its last error. */
function firstIssueOf(row: { issues: string | null; last_error: string | null }): string {
  const issue = parseIssues(row.issues)[0];
  if (issue) return `${issue.path || "(data)"}: ${issue.message}`;
  return row.last_error ?? "";
}

/** The patient id the event's payload names, if any. */
function patientOf(row: EventRow): string | undefined {
  return referencesOf(row).find((reference) => reference.label === "Patient")?.id;
}

/** The entity the event applies to, linked to its page ("order ord_…"). */
function EntityLink({ row }: { row: EventRow }) {
  const entity = entityOfEvent(row);
  if (!entity) return null;
  const page = ENTITY_PAGES[entity.kind];
  return (
    <>
      {page.noun}{" "}
      <a class="mono" href={`${page.path}/${encodeURIComponent(entity.id)}`}>
        {entity.id}
      </a>
    </>
  );
}

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
      <ChoiceFilter label="Status" name="status" values={EVENT_STATUSES} chosen={filters.status} />
      {/* A type NovaMed sent that the receiver does not know (recorded as ignored) stays selectable. */}
      <ChoiceFilter
        label="Type"
        name="type"
        values={
          filters.type && !(EVENT_TYPES as readonly string[]).includes(filters.type)
            ? [...EVENT_TYPES, filters.type]
            : EVENT_TYPES
        }
        chosen={filters.type}
      />
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
  const outcomes = Map.groupBy(
    await notificationOutcomesOf(
      c.env.DB,
      page.map((row) => row.event_id),
    ),
    (outcome) => outcome.event_id,
  );
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
              <th scope="col">Patient</th>
              <th scope="col">Entity</th>
              <th scope="col">Happened</th>
              <th scope="col">Status</th>
              <th scope="col" class="number">
                Attempts
              </th>
              <th scope="col">Notifications</th>
              <th scope="col">First issue</th>
            </tr>
          </thead>
          <tbody>
            {page.map((row) => (
              <tr data-event-id={row.event_id}>
                <td>{isSelectable(row) && <SelectCheckbox eventId={row.event_id} />}</td>
                <EventCells row={row} timeZone={timeZone} />
                <td>
                  {patientOf(row) && (
                    <a class="mono" href={`/console/patients/${encodeURIComponent(patientOf(row) ?? "")}`}>
                      {patientOf(row)}
                    </a>
                  )}
                </td>
                <td>
                  <EntityLink row={row} />
                </td>
                <td>
                  <Time iso={row.occurred_at} timeZone={timeZone} />
                </td>
                <td>
                  <StatusBadge status={row.status} />
                </td>
                <td class="number">{row.attempts}</td>
                <td>
                  <OutcomeCell outcomes={outcomes.get(row.event_id) ?? []} />
                </td>
                <td class="first-issue">{firstIssueOf(row)}</td>
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

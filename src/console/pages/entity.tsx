import { Hono } from "hono";
import { findArchivedEntity } from "../../archive/lookup";
import { getEntity } from "../../db/entities";
import { eventsForEntity } from "../../db/event-search";
import type { EntityKind } from "../../event-types";
import { audited, setAuditClinic } from "../../http/audit";
import { clinicTimeZone } from "../clinic-time-zone";
import { Notice, renderPage, StatusBadge, Time } from "../layout";
import { mayOperate, scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { ENTITY_PAGES, EventTable, NotificationTable } from "./shared";

/** How many of an entity's events a page lists (newest first); an entity sees a handful in its life. */
const EVENT_LIMIT = 100;
/** Progression bookkeeping, not facts a person reads. */
const HIDDEN = new Set([
  "status_rank",
  "status_at",
  "status_event_id",
  "clinic_id",
  "patient_id",
  "status",
  "fact_times",
]);
/** Shown as present or absent only: the page has no reason to print a home address. */
const WITHHELD = new Set(["shipping_address"]);
const TIMESTAMP = /_at$/;

/**
 * `/console/orders/:id`, `/console/medication-requests/:id`, `/console/refills/:id`: the entity's
 * current facts, every event of its types that named it, and the messages they caused. Two round trips.
 */
export const entityPages = new Hono<ConsoleApp>();

function entityRoute(kind: EntityKind) {
  const page = ENTITY_PAGES[kind];
  entityPages.get(`${page.path.replace("/console", "")}/:id`, audited(`${kind}.read`, kind, "id"), async (c) => {
    const timeZone = clinicTimeZone(c.env);
    const id = c.req.param("id");
    const [live, related] = await Promise.all([
      getEntity(c.env.DB, scopeOf(c), kind, id),
      eventsForEntity(c.env.DB, scopeOf(c), kind, id, EVENT_LIMIT),
    ]);
    // A final entity quiet for ARCHIVE_AFTER_DAYS is read back from the R2 archive (read-only);
    // another clinic's archived entity is unknown here, as its live one is.
    const archived = live ? null : await findArchivedEntity(c.env, scopeOf(c), kind, id);
    const row: Record<string, unknown> | null = live ?? archived?.row ?? null;
    if (typeof row?.clinic_id === "string") setAuditClinic(c, row.clinic_id);
    if (!row && related.events.length === 0) {
      return renderPage(
        c,
        `${page.title} not found`,
        <Notice kind="error">{`No ${page.noun} and no event with this id.`}</Notice>,
        404,
      );
    }
    const facts = row ? Object.entries(row).filter(([column]) => !HIDDEN.has(column)) : [];
    return renderPage(
      c,
      `${page.title} ${id}`,
      <>
        {archived && (
          <Notice kind="info">
            Archived: this finished {page.noun} was moved out of the database and is read from the archive (object{" "}
            <code>{archived.objectKey}</code>). Its events were archived by the day they arrived: open one by its id.
          </Notice>
        )}
        {row ? (
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={String(row.status)} /> (set by{" "}
              <a class="mono" href={`/console/events/${encodeURIComponent(String(row.status_event_id))}`}>
                {String(row.status_event_id)}
              </a>
              )
            </dd>
            <dt>Patient</dt>
            <dd>
              <a class="mono" href={`/console/patients/${encodeURIComponent(String(row.patient_id))}`}>
                {String(row.patient_id)}
              </a>
            </dd>
            {facts.map(([column, value]) => (
              <>
                <dt>{column.replaceAll("_", " ")}</dt>
                <dd>
                  {value === null || value === undefined ? (
                    <span class="muted">—</span>
                  ) : WITHHELD.has(column) ? (
                    "on file"
                  ) : TIMESTAMP.test(column) && typeof value === "string" ? (
                    <Time iso={value} timeZone={timeZone} />
                  ) : (
                    String(value)
                  )}
                </dd>
              </>
            ))}
          </dl>
        ) : (
          <Notice kind="info">{`No ${page.noun} record was written; these events named it.`}</Notice>
        )}
        <h2>Events</h2>
        <EventTable
          events={related.events}
          timeZone={timeZone}
          currentEventId={row ? String(row.status_event_id) : ""}
        />
        <h2>Messages</h2>
        <NotificationTable
          notifications={related.notifications}
          timeZone={timeZone}
          showEvent
          sendToken={mayOperate(c) ? c.get("csrfToken") : undefined}
        />
      </>,
    );
  });
}

for (const kind of Object.keys(ENTITY_PAGES) as EntityKind[]) entityRoute(kind);

import { Hono } from "hono";
import { type EntityListRow, listEntities } from "../../db/lists";
import { type EntityKind, EVENT_PROGRESSIONS } from "../../event-types";
import { StatusBadge, Time } from "../layout";
import type { ConsoleApp } from "../types";
import { addListPage, ChoiceFilter, type Column, IdLink, optionalChoice, patientHref } from "./list-page";
import { ENTITY_PAGES } from "./shared";

const LIST_TITLES: Record<EntityKind, string> = {
  order: "Orders",
  medication_request: "Medication requests",
  refill: "Refills",
};

/**
 * `/console/orders`, `/console/medication-requests`, `/console/refills`: each kind's entities by when
 * their status last changed, newest first, 50 a page; filters status, time range, clinic. No
 * medication name and no address; the rows name patients by id, so each view is audited (`<kind>.list`).
 */
export const entityLists = new Hono<ConsoleApp>();

function columnsOf(kind: EntityKind, timeZone: string): Column<EntityListRow>[] {
  const page = ENTITY_PAGES[kind];
  const orderColumns: Column<EntityListRow>[] = [
    { header: "Carrier", cell: (row) => row.carrier ?? "" },
    { header: "Tracking number", class: "mono", cell: (row) => row.tracking_number ?? "" },
  ];
  return [
    { header: "Status changed", cell: (row) => <Time iso={row.status_at} timeZone={timeZone} /> },
    { header: page.title, cell: (row) => <IdLink href={`${page.path}/${encodeURIComponent(row.id)}`} id={row.id} /> },
    { header: "Status", cell: (row) => <StatusBadge status={row.status} /> },
    {
      header: "Patient",
      cell: (row) => <IdLink href={patientHref(row.patient_id, row.clinic_id)} id={row.patient_id} />,
    },
    ...(kind === "order" ? orderColumns : []),
    { header: "Last event", cell: (row) => <Time iso={row.last_event_at} timeZone={timeZone} /> },
  ];
}

for (const kind of Object.keys(ENTITY_PAGES) as EntityKind[]) {
  const page = ENTITY_PAGES[kind];
  const statuses = Object.keys(EVENT_PROGRESSIONS[kind]);
  addListPage(entityLists, {
    path: page.path,
    action: `${kind}.list`,
    title: LIST_TITLES[kind],
    timeLabel: "Status changed",
    fields: { status: optionalChoice(statuses) },
    controls: (filters) => <ChoiceFilter label="Status" name="status" values={statuses} chosen={filters.status} />,
    read: (c, scope, filters, query) => listEntities(c.env.DB, scope, kind, { ...query, status: filters.status }),
    idOf: (row) => row.id,
    columns: (timeZone) => columnsOf(kind, timeZone),
  });
}

import { Hono } from "hono";
import { z } from "zod";
import { type AuditRow, listAuditRows } from "../../db/audit";
import { narrowedTo } from "../../db/scope";
import type { EntityKind } from "../../event-types";
import { auditedSearch } from "../../http/audit";
import { encodePosition, readPosition } from "../../http/cursor";
import { ClinicFilter, clinicChoices } from "../clinic-filter";
import { clinicTimeZone } from "../clinic-time-zone";
import { optionalFormText } from "../form-fields";
import { Notice, Pager, renderPage, StatusBadge, Time } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { listUrl } from "./list-page";
import { ENTITY_PAGES } from "./shared";

const PAGE_SIZE = 50;

/** The page's filters as its GET form sends them (an empty field means "any"); the limits are the admin API's. */
const filtersSchema = z.object({
  actor: optionalFormText(320),
  action: optionalFormText(100),
  target_type: optionalFormText(50),
  target_id: optionalFormText(200),
  clinic: optionalFormText(64),
  cursor: optionalFormText(400),
});

type Filters = z.infer<typeof filtersSchema>;

const PATH = "/console/audit";
const FILTER_FIELDS = ["actor", "action", "target_type", "target_id", "clinic"] as const;

/** Target types the writers use, offered as suggestions (the field takes any text). */
const TARGET_TYPES = ["event", "order", "medication_request", "refill", "patient", "notification", "alert"];

/** The console page of an audit row's target, when it has one; `*` (an action over many) has none. */
function targetHref(row: AuditRow): string | null {
  if (row.target_id === "*" || row.target_id === "") return null;
  const id = encodeURIComponent(row.target_id);
  if (row.target_type === "event") return `/console/events/${id}`;
  if (row.target_type === "patient") return `/console/patients/${id}`;
  // Alerts have no page of their own; the alerts list shows them.
  if (row.target_type === "alert") return "/console/alerts";
  const entity = ENTITY_PAGES[row.target_type as EntityKind] as (typeof ENTITY_PAGES)[EntityKind] | undefined;
  return entity ? `${entity.path}/${id}` : null;
}

function detailText(detail: AuditRow["detail"]): string {
  if (!detail) return "";
  return Object.entries(detail)
    .map(([name, count]) => `${name.replaceAll("_", " ")} ${count}`)
    .join(", ");
}

function FilterForm({ filters, clinics }: { filters: Filters; clinics: readonly string[] }) {
  return (
    <form method="get" action="/console/audit" class="filters" aria-label="Filter the audit trail">
      <label>
        Actor
        <input type="text" name="actor" value={filters.actor ?? ""} placeholder="token:admin" size={24} />
      </label>
      <label>
        Action
        <input type="text" name="action" value={filters.action ?? ""} placeholder="patient.reveal_phone" size={22} />
      </label>
      <label>
        Target type
        <input
          type="text"
          name="target_type"
          value={filters.target_type ?? ""}
          list="audit-target-types"
          placeholder="patient"
          size={18}
        />
      </label>
      <datalist id="audit-target-types">
        {TARGET_TYPES.map((type) => (
          <option value={type} />
        ))}
      </datalist>
      <label>
        Target id
        <input type="text" name="target_id" value={filters.target_id ?? ""} size={28} />
      </label>
      <ClinicFilter clinics={clinics} chosen={filters.clinic} />
      <button type="submit">Apply</button>
      <a href="/console/audit">Clear</a>
    </form>
  );
}

function AuditTable({ rows, timeZone }: { rows: AuditRow[]; timeZone: string }) {
  return (
    <table id="audit">
      <caption class="muted">
        {rows.length === 0 ? "No audit rows match." : `Newest first; times in ${timeZone}.`}
      </caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">Outcome</th>
          <th scope="col">Detail</th>
          <th scope="col">Request</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const href = targetHref(row);
          return (
            <tr data-audit-id={row.audit_id}>
              <td>
                <Time iso={row.at} timeZone={timeZone} />
              </td>
              <td class="mono">{row.actor}</td>
              <td class="mono">{row.action}</td>
              <td>
                {row.target_type}{" "}
                {href ? (
                  <a class="mono" href={href}>
                    {row.target_id}
                  </a>
                ) : (
                  <span class="mono">{row.target_id === "*" ? "(many)" : row.target_id}</span>
                )}
              </td>
              <td>
                <StatusBadge status={row.outcome} />
                {row.status !== null && <span class="muted"> HTTP {row.status}</span>}
              </td>
              <td>{detailText(row.detail)}</td>
              <td class="mono">{row.request_id ?? ""}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/**
 * `/console/audit`: the audit trail newest first, by actor, action, target type and target id, 50 a
 * page with `GET /admin/audit`'s cursor; one round trip. Its rows hold ids and outcomes, never a PHI
 * value, but they name patients by id, so viewing it is audited (`audit.read`, a target id filter as
 * the search text).
 */
export const auditPage = new Hono<ConsoleApp>();

auditPage.get("/", auditedSearch("audit.read", "target_id", { targetType: "audit" }), async (c) => {
  const timeZone = clinicTimeZone(c.env);
  const parsed = filtersSchema.safeParse(c.req.query());
  const filters: Filters = parsed.success ? parsed.data : {};
  const after = parsed.success && filters.cursor ? readPosition(filters.cursor, "integer") : undefined;
  if (!parsed.success || after === null) {
    return renderPage(
      c,
      "Audit trail",
      <>
        <FilterForm filters={filters} clinics={clinicChoices(c)} />
        <Notice kind="error">
          These filters are not valid; check their length, or start again from the first page.
        </Notice>
      </>,
      400,
    );
  }
  const { rows: page, next: nextPosition } = await listAuditRows(c.env.DB, narrowedTo(scopeOf(c), filters.clinic), {
    actor: filters.actor,
    action: filters.action,
    targetType: filters.target_type,
    targetId: filters.target_id,
    limit: PAGE_SIZE,
    after,
  });
  const next = nextPosition && listUrl(PATH, filters, FILTER_FIELDS, encodePosition(nextPosition));
  return renderPage(
    c,
    "Audit trail",
    <>
      <FilterForm filters={filters} clinics={clinicChoices(c)} />
      <AuditTable rows={page} timeZone={timeZone} />
      <Pager first={filters.cursor ? listUrl(PATH, filters, FILTER_FIELDS) : null} next={next} />
    </>,
  );
});

import type { Context, Hono } from "hono";
import type { Child } from "hono/jsx";
import { z } from "zod";
import type { ListQuery } from "../../db/lists";
import type { Page } from "../../db/paging";
import { narrowedTo, type StaffScope } from "../../db/scope";
import { audited } from "../../http/audit";
import { encodePosition, readPosition } from "../../http/cursor";
import { ClinicFilter, clinicChoices } from "../clinic-filter";
import { clinicTimeZone } from "../clinic-time-zone";
import { optionalFormText } from "../form-fields";
import { wallClockToUtc } from "../format";
import { Notice, Pager, renderPage } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";

/**
 * The console's list pages (patients, orders, medication requests, refills, notifications) as one
 * handler over a spec: each page states its own filter fields, its reader and its columns; the time
 * range in clinic time, the clinic filter, the cursor, the 400 page for invalid filters, the table and
 * the pager are the same for all.
 */

/** Rows per page of every list. */
export const LIST_PAGE_SIZE = 50;

/** The shared fields of a list's query string. */
const listFields = {
  from: optionalFormText(16),
  to: optionalFormText(16),
  clinic: optionalFormText(64),
  cursor: optionalFormText(400),
};
const SHARED_KEYS = ["from", "to", "clinic"] as const;

/** A closed choice of a GET form: one of `values`, or empty for "any". */
export function optionalChoice<T extends string>(values: readonly T[]) {
  return z
    .union([z.literal(""), z.enum(values as [T, ...T[]])])
    .transform((value) => value || undefined)
    .optional();
}

/** A page's filter values as the form sent them (undefined: any). */
export type Filters = Partial<Record<string, string>>;

/** One column of a list's table. */
export interface Column<Row> {
  header: string;
  class?: string;
  cell: (row: Row) => Child;
}

export interface ListPageSpec<Fields extends z.ZodRawShape, Row> {
  /** The page's path under /console, and the audit action of each view (the rows name patients). */
  path: string;
  action: string;
  title: string;
  /** What the time range filters, e.g. "Created". */
  timeLabel: string;
  /** The page's own filter fields (besides the time range, clinic and cursor), in URL order. */
  fields: Fields;
  /** The page's own form controls. */
  controls?: (filters: Filters) => Child;
  /** Reads one page plus one row; `filters` hold the page's own fields, validated by `fields`. */
  read: (c: Context<ConsoleApp>, scope: StaffScope, filters: Filters, query: ListQuery) => Promise<Page<Row>>;
  /** The row's id (the table row's `data-id`). */
  idOf: (row: Row) => string;
  columns: (timeZone: string) => Column<Row>[];
}

/** A list's URL for these filters (those named in `keys`), plus a cursor, so links keep the filters. */
export function listUrl(path: string, filters: Filters, keys: readonly string[], cursor?: string): string {
  const params = new URLSearchParams();
  for (const key of keys) {
    const value = filters[key];
    if (value) params.set(key, value);
  }
  if (cursor) params.set("cursor", cursor);
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

/** The shared fields as the store takes them: the clinic-time range in UTC and the cursor's position; null when invalid. */
function resolveListQuery(filters: Filters, timeZone: string): Omit<ListQuery, "limit"> | null {
  const from = filters.from ? wallClockToUtc(filters.from, timeZone) : undefined;
  const before = filters.to ? wallClockToUtc(filters.to, timeZone) : undefined;
  const after = filters.cursor ? readPosition(filters.cursor) : undefined;
  if (from === null || before === null || after === null) return null;
  return { from, before, after };
}

/** The filled fields of a parsed form (every field of a list's form is text or a choice). */
function textFields(data: Record<string, unknown>): Filters {
  return Object.fromEntries(
    Object.entries(data).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
}

/** A select of a list's closed choices ("any" first). */
export function ChoiceFilter(props: { label: string; name: string; values: readonly string[]; chosen?: string }) {
  return (
    <label>
      {props.label}
      <select name={props.name}>
        <option value="">any</option>
        {props.values.map((value) => (
          <option value={value} selected={props.chosen === value}>
            {value}
          </option>
        ))}
      </select>
    </label>
  );
}

function FilterForm(props: {
  spec: Pick<ListPageSpec<z.ZodRawShape, unknown>, "path" | "title" | "timeLabel" | "controls">;
  filters: Filters;
  clinics: readonly string[];
}) {
  const { spec, filters } = props;
  return (
    <form method="get" action={spec.path} class="filters" aria-label={`Filter ${spec.title.toLowerCase()}`}>
      {spec.controls?.(filters)}
      {(["from", "to"] as const).map((name) => (
        <label>
          {`${spec.timeLabel} ${name === "from" ? "from" : "before"} (clinic time)`}
          <input type="datetime-local" name={name} value={filters[name] ?? ""} />
        </label>
      ))}
      <ClinicFilter clinics={props.clinics} chosen={filters.clinic} />
      <button type="submit">Apply</button>
      <a href={spec.path}>Clear</a>
    </form>
  );
}

/**
 * Adds a list page to `app` (mounted at /console): GET `spec.path`, audited as `spec.action` on
 * target `*`, answering filters, one page of rows in a table and the pager.
 */
export function addListPage<Fields extends z.ZodRawShape, Row>(app: Hono<ConsoleApp>, spec: ListPageSpec<Fields, Row>) {
  const schema = z.object({ ...spec.fields, ...listFields });
  const keys = [...Object.keys(spec.fields), ...SHARED_KEYS];
  const targetType = spec.action.replace(/\.list$/, "");
  app.get(spec.path.replace("/console", ""), audited(spec.action, targetType, { fixed: "*" }), async (c) => {
    const timeZone = clinicTimeZone(c.env);
    const parsed = schema.safeParse(c.req.query());
    const filters: Filters = parsed.success ? textFields(parsed.data) : {};
    const resolved = parsed.success ? resolveListQuery(filters, timeZone) : null;
    const form = <FilterForm spec={spec} filters={filters} clinics={clinicChoices(c)} />;
    if (!parsed.success || !resolved)
      return renderPage(
        c,
        spec.title,
        <>
          {form}
          <Notice kind="error">These filters are not valid; check the choices and dates.</Notice>
        </>,
        400,
      );
    const scope = narrowedTo(scopeOf(c), filters.clinic);
    const { rows: page, next: nextPosition } = await spec.read(c, scope, filters, {
      ...resolved,
      limit: LIST_PAGE_SIZE,
    });
    const urlOf = (cursor?: string) => listUrl(spec.path, filters, keys, cursor);
    const next = nextPosition && urlOf(encodePosition(nextPosition));
    const columns = spec.columns(timeZone);
    return renderPage(
      c,
      spec.title,
      <>
        {form}
        {/* Focusable, so a keyboard can scroll it on a phone even when it holds no link (an empty list). */}
        <table class="list" tabindex={0}>
          <caption class="muted">
            {page.length === 0 ? `No ${spec.title.toLowerCase()} match.` : `Newest first; times in ${timeZone}.`}
          </caption>
          <thead>
            <tr>
              {columns.map((column) => (
                <th scope="col" class={column.class}>
                  {column.header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page.map((row) => (
              <tr data-id={spec.idOf(row)}>
                {columns.map((column) => (
                  <td class={column.class}>{column.cell(row)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        <Pager first={filters.cursor ? urlOf() : null} next={next} />
      </>,
    );
  });
}

/** A patient's console page in its clinic's directory (an unassigned row: the only clinic's, no parameter). */
export function patientHref(patientId: string, clinicId: string | null): string {
  const path = `/console/patients/${encodeURIComponent(patientId)}`;
  return clinicId ? `${path}?clinic=${encodeURIComponent(clinicId)}` : path;
}

/** A linked id in a monospace face. */
export function IdLink({ href, id }: { href: string; id: string }) {
  return (
    <a class="mono" href={href}>
      {id}
    </a>
  );
}

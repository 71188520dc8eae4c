import { type Context, Hono } from "hono";
import { auditedSearch } from "../../http/audit";
import { auditedSearchText, findAnything, MAX_SEARCH_TEXT, MIN_PREFIX, type SearchHit } from "../../search/find";
import { Notice, renderPage } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { patientHref } from "./list-page";
import { ENTITY_PAGES } from "./shared";

const KIND_NAMES: Record<SearchHit["kind"], string> = {
  patient: "Patient",
  order: "Order",
  medication_request: "Medication request",
  refill: "Refill",
  event: "Event",
  notification: "Notification",
};

const MATCHED: Record<SearchHit["matched"], string> = {
  phone: "phone number",
  email: "email address",
  tracking_number: "tracking number",
  id: "id",
};

/** The console page of a hit (a notification's is its event's). */
function hitHref(hit: SearchHit): string {
  const id = encodeURIComponent(hit.id);
  switch (hit.kind) {
    case "patient":
      return patientHref(hit.id, hit.clinic_id);
    case "event":
      return `/console/events/${id}`;
    case "notification":
      return `/console/events/${encodeURIComponent(hit.event_id ?? "")}`;
    default:
      return `${ENTITY_PAGES[hit.kind].path}/${id}`;
  }
}

/**
 * `/console/search`: the header's search box (the same search as `/admin/search`), audited as `search`
 * with a phone or email recorded as its digest. The box posts its text (with the session's CSRF token),
 * so a phone or email never lands in a URL, the browser's history or request logs; `GET ?q=` stays for
 * links. Results name ids only, never the matched value.
 */
export const searchPage = new Hono<ConsoleApp>();

const audit = auditedSearch<ConsoleApp>("search", "q", "not_audited", (c, text) => auditedSearchText(c.env, text));

searchPage.get("/", audit, (c) => results(c, c.req.query("q") ?? ""));
searchPage.post("/", audit, async (c) => {
  const body = await c.req.parseBody();
  return results(c, typeof body.q === "string" ? body.q : "");
});

/** The search page for `rawText`: a 400 notice for an empty or too long text, else the hits. */
async function results(c: Context<ConsoleApp>, rawText: string) {
  const text = rawText.trim();
  if (text === "" || text.length > MAX_SEARCH_TEXT)
    return renderPage(
      c,
      "Search",
      <Notice kind="error">
        {`Type a phone number, an email address, a tracking number or at least ${MIN_PREFIX} characters of an id (at most ${MAX_SEARCH_TEXT}).`}
      </Notice>,
      400,
    );
  const hits = await findAnything(c.env, scopeOf(c), text);
  return renderPage(
    c,
    "Search",
    <>
      <p class="muted">
        {hits.length === 0
          ? `Nothing found. Search by phone (any format), email, tracking number, or at least ${MIN_PREFIX} characters of an id.`
          : `${hits.length} found.`}
      </p>
      {hits.length > 0 && (
        <table id="search-results">
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Id</th>
              <th scope="col">Found by</th>
              <th scope="col">Clinic</th>
            </tr>
          </thead>
          <tbody>
            {hits.map((hit) => (
              <tr data-kind={hit.kind} data-id={hit.id}>
                <td>{KIND_NAMES[hit.kind]}</td>
                <td>
                  <a class="mono" href={hitHref(hit)}>
                    {hit.id}
                  </a>
                </td>
                <td>{MATCHED[hit.matched]}</td>
                <td class="mono">{hit.clinic_id || "unassigned"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>,
  );
}

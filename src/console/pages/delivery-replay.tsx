import { type Context, Hono } from "hono";
import type { Child } from "hono/jsx";
import { z } from "zod";
import { MAX_REPLAY_SELECTION } from "../../db/deliveries";
import { type Destination, getDestination } from "../../db/destinations";
import { replayDeliveries } from "../../forwarding/replay";
import { audited, setAuditClinic, setAuditDetail } from "../../http/audit";
import { clinicTimeZone } from "../clinic-time-zone";
import { optionalFormText } from "../form-fields";
import { wallClockToUtc } from "../format";
import { CsrfField, Notice, renderPage } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";

/** The most "Replay all matching" takes in one run: the cap of `POST /admin/deliveries/replay`. */
export const DELIVERY_REPLAY_LIMIT = 1000;

/** A destination page's query (and the replay forms' hidden fields): a status filter and the cursor. */
export const deliveriesQuery = z.object({
  status: z
    .union([z.literal(""), z.enum(["pending", "delivered", "failed"])])
    .transform((value) => value || undefined)
    .optional(),
  after: z
    .union([z.literal(""), z.string().regex(/^\d{1,15}$/)])
    .transform((value) => value || undefined)
    .optional(),
});
export type DeliveriesQuery = z.infer<typeof deliveriesQuery>;

/** The destination page's URL with these parameters (empty ones left out). */
export function deliveriesUrl(destinationId: string, params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const query = search.toString();
  const path = `/console/destinations/${encodeURIComponent(destinationId)}`;
  return query ? `${path}?${query}` : path;
}

function ListFields({ query }: { query: DeliveriesQuery }) {
  return (
    <>
      {query.status && <input type="hidden" name="status" value={query.status} />}
      {query.after && <input type="hidden" name="after" value={query.after} />}
    </>
  );
}

/**
 * The destination page's two replay forms (POST, CSRF token, the list's filters kept): the list
 * itself inside "Replay selected" (a checkbox per failed or delivered row), and "Replay all matching"
 * by status and change time range (clinic time), at most {@link DELIVERY_REPLAY_LIMIT}.
 */
export function DeliveryReplayForms({
  destinationId,
  query,
  csrfToken,
  children,
}: {
  destinationId: string;
  query: DeliveriesQuery;
  csrfToken: string;
  children: Child;
}) {
  const action = `/console/destinations/${encodeURIComponent(destinationId)}/replay`;
  return (
    <>
      <form method="post" action={action} id="replay-selected" aria-label="Replay selected deliveries">
        {children}
        <div class="bulk-actions">
          <CsrfField token={csrfToken} />
          <ListFields query={query} />
          <button type="submit" name="scope" value="selected">
            Replay selected
          </button>
        </div>
      </form>
      <form method="post" action={action} class="filters" id="replay-matching" aria-label="Replay all matching">
        <CsrfField token={csrfToken} />
        <ListFields query={query} />
        <label>
          Deliveries
          <select name="replay_status">
            <option value="failed">failed</option>
            <option value="delivered">delivered</option>
          </select>
        </label>
        <label>
          Changes from (clinic time)
          <input type="datetime-local" name="from" />
        </label>
        <label>
          Changes until (clinic time)
          <input type="datetime-local" name="to" />
        </label>
        <button type="submit" name="scope" value="matching" class="secondary">
          Replay all matching (up to {DELIVERY_REPLAY_LIMIT})
        </button>
      </form>
    </>
  );
}

/** Why a replay form took nothing, by the `refused` parameter of the redirect back. */
const REFUSALS = new Map([
  ["none_selected", "Nothing was replayed: select at least one failed or delivered delivery first."],
  ["too_many", `Nothing was replayed: select at most ${MAX_REPLAY_SELECTION} deliveries at a time.`],
  ["invalid_filters", "Nothing was replayed: choose failed or delivered, and valid times."],
]);

/** A count of the redirect's parameters, or null when absent or not a count. */
function countOf(value: string | undefined): number | null {
  return value !== undefined && /^\d{1,7}$/.test(value) ? Number(value) : null;
}

/** The notice the destination page shows after a replay redirected back to it. */
export function replayNotice(query: Record<string, string>): { kind: "info" | "error"; text: string } | null {
  const refusal = query.refused === undefined ? undefined : REFUSALS.get(query.refused);
  if (refusal) return { kind: "error", text: refusal };
  const count = countOf(query.replayed);
  if (count === null) return null;
  const enqueued = countOf(query.enqueued) ?? count;
  const parts = [`${count} deliver${count === 1 ? "y" : "ies"} queued for replay.`];
  if (enqueued < count) parts.push(`${count - enqueued} could not be queued now; the 5-minute sweep sends them.`);
  if (count === DELIVERY_REPLAY_LIMIT)
    parts.push(`At most ${DELIVERY_REPLAY_LIMIT} at a time; replay again for the rest.`);
  return { kind: "info", text: parts.join(" ") };
}

/**
 * A handler for a console request naming `:destination_id`: runs `handler` with the destination when
 * the identity's clinics hold it (its clinic recorded on the audit row); otherwise answers the 404
 * page, as for an unknown id.
 */
export function forDestination(
  handler: (c: Context<ConsoleApp>, destination: Destination) => Promise<Response>,
): (c: Context<ConsoleApp>) => Promise<Response> {
  return async (c) => {
    const destination = await getDestination(c.env.DB, scopeOf(c), c.req.param("destination_id") ?? "");
    if (!destination)
      return renderPage(
        c,
        "Destination not found",
        <Notice kind="error">No destination of your clinics has this id.</Notice>,
        404,
      );
    setAuditClinic(c, destination.clinic_id);
    return handler(c, destination);
  };
}

const matchingForm = z.object({
  replay_status: z.enum(["failed", "delivered"]),
  from: optionalFormText(16),
  to: optionalFormText(16),
});
const selectionSchema = z.array(z.string().trim().min(1).max(100));

/**
 * `POST /console/destinations/:id/replay` (admins only, CSRF checked): "Replay selected" (the ticked
 * rows) or "Replay all matching" (a status and a change time range), through the admin API's
 * `replayDeliveries`. Answers a 303 back to the page with a notice; writes one `deliveries.replay`
 * audit row on the destination with the count replayed (0 for a refusal).
 */
export const deliveryReplay = new Hono<ConsoleApp>();

deliveryReplay.post(
  "/:destination_id/replay",
  audited("deliveries.replay", "destination", "destination_id"),
  forDestination(async (c, destination) => {
    const id = destination.destination_id;
    const form = await c.req.parseBody({ all: true });
    const list = deliveriesQuery.safeParse({ status: form.status, after: form.after });
    const back = (notice: Record<string, string>) => {
      setAuditDetail(c, { replayed: Number(notice.replayed ?? 0) });
      return c.redirect(deliveriesUrl(id, { ...(list.success ? list.data : {}), ...notice }), 303);
    };
    const now = c.get("now");

    if (form.scope === "matching") {
      const parsed = matchingForm.safeParse(form);
      if (!parsed.success) return back({ refused: "invalid_filters" });
      const timeZone = clinicTimeZone(c.env);
      const from = parsed.data.from ? wallClockToUtc(parsed.data.from, timeZone) : undefined;
      const to = parsed.data.to ? wallClockToUtc(parsed.data.to, timeZone) : undefined;
      if (from === null || to === null) return back({ refused: "invalid_filters" });
      const result = await replayDeliveries(
        c.env,
        id,
        { status: parsed.data.replay_status, from, to, limit: DELIVERY_REPLAY_LIMIT },
        now,
      );
      return back({ replayed: String(result.replayed), enqueued: String(result.enqueued) });
    }

    const selection = selectionSchema.safeParse(form.delivery_id === undefined ? [] : [form.delivery_id].flat());
    if (!selection.success || selection.data.length === 0) return back({ refused: "none_selected" });
    const chosen = [...new Set(selection.data)];
    if (chosen.length > MAX_REPLAY_SELECTION) return back({ refused: "too_many" });
    const result = await replayDeliveries(c.env, id, { deliveryIds: chosen }, now);
    return back({ replayed: String(result.replayed), enqueued: String(result.enqueued) });
  }),
);

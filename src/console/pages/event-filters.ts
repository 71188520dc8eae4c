import { z } from "zod";
import { EVENT_STATUSES, type EventStatus } from "../../db/events";
import type { ListPosition } from "../../db/paging";
import { readPosition } from "../../http/cursor";
import { optionalFormText } from "../form-fields";
import { wallClockToUtc } from "../format";

/** The events list's filters, as its query string (GET) or the bulk-replay form's hidden fields (POST) carry them. */
export const filtersSchema = z.object({
  status: z
    .union([z.literal(""), z.enum(EVENT_STATUSES as [EventStatus, ...EventStatus[]])])
    .transform((value) => value || undefined)
    .optional(),
  type: optionalFormText(100),
  q: optionalFormText(200),
  from: optionalFormText(16),
  to: optionalFormText(16),
  clinic: optionalFormText(64),
  cursor: optionalFormText(400),
});

export type Filters = z.infer<typeof filtersSchema>;

/** The filters the list's URL keeps, in the order they appear in it. */
export const FILTER_FIELDS = ["status", "type", "q", "from", "to", "clinic"] as const;

/** The list's URL for these filters, plus `extra` parameters (a cursor, a notice), so links keep the filters. */
export function listUrl(filters: Filters, extra: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const key of FILTER_FIELDS) {
    const value = filters[key];
    if (value) params.set(key, value);
  }
  for (const [key, value] of Object.entries(extra)) if (value) params.set(key, value);
  const query = params.toString();
  return query ? `/console/events?${query}` : "/console/events";
}

/** What the store is asked for: the received range in UTC and the cursor position. */
export interface ResolvedFilters {
  receivedFrom?: string;
  receivedBefore?: string;
  after?: ListPosition;
}

/**
 * Resolves the clinic wall-clock range to UTC instants and decodes the cursor; null when any of them
 * is not valid.
 */
export function resolveFilters(filters: Filters, timeZone: string): ResolvedFilters | null {
  const receivedFrom = filters.from ? wallClockToUtc(filters.from, timeZone) : undefined;
  const receivedBefore = filters.to ? wallClockToUtc(filters.to, timeZone) : undefined;
  const after = filters.cursor ? readPosition(filters.cursor) : undefined;
  if (receivedFrom === null || receivedBefore === null || after === null) return null;
  return { receivedFrom, receivedBefore, after };
}

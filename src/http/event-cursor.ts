import { encodeCursor, readCursor } from "./cursor";

/** The events lists' cursor (admin API and console): the last row's place in the newest-first order. */

/** The cursor that continues after `row`. */
export function encodeEventCursor(row: { received_at: string; event_id: string }): string {
  return encodeCursor([row.received_at, row.event_id]);
}

/** The position a cursor names, or null when it is not one {@link encodeEventCursor} made. */
export function decodeEventCursor(cursor: string): { receivedAt: string; eventId: string } | null {
  const [receivedAt, eventId] = readCursor(cursor, 2) ?? [];
  return receivedAt !== undefined && eventId !== undefined ? { receivedAt, eventId } : null;
}

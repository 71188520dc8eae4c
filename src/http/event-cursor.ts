import { decodeCursor, encodeCursor } from "./cursor";
import { ApiError } from "./errors";

/** The events lists' cursor (admin API and console): the last row's place in the newest-first order. */

/** The cursor that continues after `row`. */
export function encodeEventCursor(row: { received_at: string; event_id: string }): string {
  return encodeCursor([row.received_at, row.event_id]);
}

/** The position a cursor names, or null when it is not one {@link encodeEventCursor} made. */
export function decodeEventCursor(cursor: string): { receivedAt: string; eventId: string } | null {
  try {
    const [receivedAt = "", eventId = ""] = decodeCursor(cursor, 2);
    return { receivedAt, eventId };
  } catch (error) {
    if (error instanceof ApiError) return null;
    throw error;
  }
}

/** The events lists' opaque cursor: the last row's position in the newest-first order, base64url. */

/** The cursor that continues after `row`. */
export function encodeEventCursor(row: { received_at: string; event_id: string }): string {
  return btoa(JSON.stringify([row.received_at, row.event_id]))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

/** The position a cursor names, or null when it is not one {@link encodeEventCursor} made. */
export function decodeEventCursor(cursor: string): { receivedAt: string; eventId: string } | null {
  try {
    const [receivedAt, eventId] = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/"))) as unknown[];
    if (typeof receivedAt === "string" && typeof eventId === "string") return { receivedAt, eventId };
  } catch {
    // not base64 or not JSON: not ours
  }
  return null;
}

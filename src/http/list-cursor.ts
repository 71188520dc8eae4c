import type { ListPosition } from "../db/lists";
import { encodeCursor, readCursor } from "./cursor";

/** The cursor of the console's list pages (src/db/lists.ts): the last row's time and id. */

/** The cursor that continues after the row at `position`. */
export function encodeListCursor(position: ListPosition): string {
  return encodeCursor([position.at, position.id]);
}

/** The position a cursor names, or null when it is not one {@link encodeListCursor} made. */
export function decodeListCursor(cursor: string): ListPosition | null {
  const [at, id] = readCursor(cursor, 2) ?? [];
  return at !== undefined && id !== undefined ? { at, id } : null;
}

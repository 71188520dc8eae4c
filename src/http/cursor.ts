import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import type { ListPosition } from "../db/paging";
import { ApiError } from "./errors";

/**
 * Opaque page cursors: a row's position in a list's order (e.g. `[received_at, event_id]`) as
 * base64url JSON without padding, with Hono's base64url codec.
 */
export function encodeCursor(position: readonly string[]): string {
  const bytes = new TextEncoder().encode(JSON.stringify(position));
  return encodeBase64Url(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)).replace(/=+$/, "");
}

/** The position of a cursor this API returned, with `length` strings; null for anything else. */
export function readCursor(cursor: string, length: number): string[] | null {
  try {
    const position: unknown = JSON.parse(new TextDecoder().decode(decodeBase64Url(cursor)));
    if (
      Array.isArray(position) &&
      position.length === length &&
      position.every((value): value is string => typeof value === "string")
    )
      return position;
  } catch {
    // not base64url JSON: not ours
  }
  return null;
}

/**
 * A position read from a cursor, or the contract's 400 `invalid_query` when there is none (the
 * answer never echoes the cursor). Admin lists call this; console pages render their own 400 page.
 */
export function requireCursor<T>(position: T | null): T {
  if (position !== null) return position;
  throw new ApiError(400, "invalid_query", "The query parameters are invalid.", {
    issues: [{ path: "cursor", message: "is not a cursor this API returned" }],
  });
}

/** {@link readCursor}, or the contract's 400 `invalid_query`. */
export function decodeCursor(cursor: string, length: number): string[] {
  return requireCursor(readCursor(cursor, length));
}

/** The cursor of a list position (the admin lists' `next_cursor`, the console's `cursor` link). */
export function encodePosition(position: ListPosition): string {
  return encodeCursor([position.time, String(position.id)]);
}

/**
 * The position a cursor of {@link encodePosition} names, or null for anything else; `id: "integer"`
 * for a list ordered by a row number (the audit trail), whose id must read back as a safe integer.
 */
export function readPosition(cursor: string, id: "text" | "integer" = "text"): ListPosition | null {
  const [time, text] = readCursor(cursor, 2) ?? [];
  if (time === undefined || text === undefined) return null;
  if (id === "text") return { time, id: text };
  const number = Number(text);
  return text !== "" && Number.isSafeInteger(number) ? { time, id: number } : null;
}

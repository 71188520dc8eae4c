import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors";
import type { App } from "../types";

/**
 * The cap of a form a stranger can post before signing in (the console's sign-in): a few hundred
 * bytes in practice; anything larger is refused before it is read.
 */
export const FORM_MAX_BODY_BYTES = 8 * 1024;

/**
 * Hono's `bodyLimit` answering in the contract's shape: 413 `payload_too_large`. It trusts a declared
 * Content-Length and counts a chunked body as it streams, stopping at the cap.
 */
export function bodyCap(maxBytes: number, message: string): MiddlewareHandler<App> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(413, "payload_too_large", message);
    },
  });
}

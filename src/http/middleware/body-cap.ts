import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors";
import type { App } from "../types";

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

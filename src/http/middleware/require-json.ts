import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import type { App } from "../types";

/** `application/json` or any `application/*+json`, with or without parameters such as charset. */
const JSON_MEDIA_TYPE = /^application\/([a-z0-9.-]+\+)?json\s*(;|$)/i;

/**
 * Refuses a body that does not declare JSON with 415 before any of it is read. (Hono's validator
 * would answer 400, which the contract reserves for a body that is not valid JSON.)
 */
export function requireJsonContentType(): MiddlewareHandler<App> {
  return async function requireJsonContentType(c, next) {
    const contentType = c.req.header("content-type") ?? "";
    if (!JSON_MEDIA_TYPE.test(contentType)) {
      throw new ApiError(415, "unsupported_media_type", "The Content-Type must be application/json.");
    }
    await next();
  };
}

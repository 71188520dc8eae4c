import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { log } from "../../log";
import type { App } from "../types";

/**
 * One structured line per request: our request id, the caller's correlation id (its X-Request-Id,
 * when a UUID), method, matched route, status, the event's type and
 * id once its envelope was valid, and the duration. No header values and no body content.
 */
export function requestLog(): MiddlewareHandler<App> {
  return async function requestLog(c, next) {
    const started = Date.now();
    await next();
    log.info("request", {
      request_id: c.get("requestId"),
      correlation_id: c.get("correlationId"),
      method: c.req.method,
      route: routePath(c, -1),
      status: c.res.status,
      event_type: c.get("eventType"),
      event_id: c.get("eventId"),
      duration_ms: Date.now() - started,
    });
  };
}

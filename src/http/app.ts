import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { ConfigError } from "../config/read";
import { createConsole } from "../console/app";
import { errorKind, log } from "../log";
import { ApiError } from "./errors";
import { requestLog } from "./middleware/request-log";
import { admin } from "./routes/admin";
import { resendWebhook } from "./routes/resend";
import { twilioWebhooks } from "./routes/twilio";
import { unsubscribe } from "./routes/unsubscribe";
import { novamedWebhook } from "./routes/webhooks";
import type { App } from "./types";

/** The Worker's HTTP surface. `src/index.ts` wires `app.fetch` as the `fetch` handler. */
export const app = new Hono<App>();

/** A caller's X-Request-Id is kept as its correlation id only when it is a UUID (anything else could carry PHI). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// The Worker always issues its own request id: it keys audit rows and stored events, so a caller
// must not choose it (nor collide with another request's). headerName "" stops Hono's requestId
// from adopting the caller's header; the response echoes the id we issued.
app.use(requestId({ headerName: "", generator: () => crypto.randomUUID() }));
app.use(async function requestIds(c, next) {
  // The caller's own id, for matching our log lines to theirs: logged beside ours, never used as ours.
  const offered = c.req.header("x-request-id");
  if (offered && UUID.test(offered)) c.set("correlationId", offered.toLowerCase());
  await next();
  c.header("X-Request-Id", c.get("requestId"));
});
app.use(secureHeaders());
app.use(requestLog());
app.use(
  methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      c.json({ error: { code: "method_not_allowed", message: "This method is not allowed on this path." } }, 405, {
        Allow: methods.join(", "),
      }),
  }),
);

// Admin answers carry PHI or say who may read it: no cache may keep one, errors included.
app.use("/admin/*", async function noStore(c, next) {
  await next();
  c.header("Cache-Control", "no-store");
});

app.get("/health", (c) => c.json({ status: "ok" }));
app.route("/webhooks", novamedWebhook);
app.route("/webhooks/twilio", twilioWebhooks);
app.route("/webhooks/resend", resendWebhook);
app.route("/u", unsubscribe);
app.route("/admin", admin);
app.route("/console", createConsole());

app.notFound((c) => c.json({ error: { code: "not_found", message: "No route matches this path." } }, 404));

app.onError((error, c) => {
  if (error instanceof ApiError) {
    return c.json(error.body(), error.status, error.headers);
  }
  if (error instanceof ConfigError) {
    log.error("misconfigured", { request_id: c.get("requestId"), variable: error.variable });
    // The variable's name helps whoever configures the receiver and reveals nothing; its value never appears.
    return c.json(
      {
        error: {
          code: "misconfigured",
          message: `The receiver is misconfigured: ${error.variable} is missing or invalid; see its logs.`,
        },
      },
      500,
    );
  }
  if (error instanceof HTTPException) {
    // Hono's JSON validator throws a bare 400 only for a body that is not valid JSON.
    if (error.status === 400 && !error.res) {
      return c.json({ error: { code: "invalid_json", message: "The body is not valid JSON." } }, 400);
    }
    // Hono middleware that built its own response (bearer-auth's 401, in our shape).
    if (error.res) return error.getResponse();
  }
  log.error("unhandled error", { request_id: c.get("requestId"), error: errorKind(error) });
  return c.json({ error: { code: "internal_error", message: "Something went wrong." } }, 500);
});

import { Hono } from "hono";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { readAdminIdentity } from "../config/admin";
import { ConfigError } from "../config/read";
import { contractAnswer } from "../http/errors";
import { errorKind, log } from "../log";
import { requireCsrfToken } from "./csrf";
import { ICON_PATH, Layout, Notice, STYLESHEET_PATH } from "./layout";
import { alertsPage } from "./pages/alerts";
import { auditPage } from "./pages/audit";
import { clinicsPage } from "./pages/clinics";
import { deliveryReplay } from "./pages/delivery-replay";
import { destinationsPage } from "./pages/destinations";
import { entityPages } from "./pages/entity";
import { entityLists } from "./pages/entity-lists";
import { eventPage } from "./pages/event";
import { eventBulkReplay } from "./pages/event-bulk-replay";
import { eventList } from "./pages/events";
import { inboundReplyPage } from "./pages/inbound-reply";
import { login } from "./pages/login";
import { notificationList } from "./pages/notification-list";
import { notificationSend } from "./pages/notification-send";
import { overview } from "./pages/overview";
import { patientPage } from "./pages/patient";
import { patientList } from "./pages/patient-list";
import { searchPage } from "./pages/search";
import { consoleScope } from "./scope";
import { ACCESS_LOGOUT_PATH, consoleIdentity, endSession } from "./session";
import { CONSOLE_CSS, CONSOLE_ICON } from "./styles";
import type { ConsoleApp } from "./types";

export interface ConsoleOptions {
  /** The clock every page decides by; tests fix it. */
  now?: () => Date;
}

/**
 * The operations console, mounted at `/console`: server-rendered pages over the admin API's data.
 * Every response is `no-store` with a CSP allowing only the console's own stylesheet and icon; every
 * POST passes Hono's origin check and carries the session's CSRF token.
 */
export function createConsole(options: ConsoleOptions = {}): Hono<ConsoleApp> {
  const now = options.now ?? (() => new Date());
  const consoleApp = new Hono<ConsoleApp>();

  consoleApp.use(async function noStoreAndClock(c, next) {
    c.set("now", now());
    await next();
    c.header("Cache-Control", "no-store");
  });
  consoleApp.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      referrerPolicy: "same-origin",
    }),
  );
  consoleApp.use(csrf());

  // Public: the assets the login page needs, and the login itself.
  consoleApp.get(STYLESHEET_PATH.replace("/console", ""), (c) =>
    c.body(CONSOLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" }),
  );
  consoleApp.get(ICON_PATH.replace("/console", ""), (c) =>
    c.body(CONSOLE_ICON, 200, { "Content-Type": "image/svg+xml" }),
  );
  consoleApp.route("/login", login);

  // Everything below needs a session, and a CSRF token on every POST.
  consoleApp.use(consoleIdentity());
  consoleApp.use(consoleScope());
  consoleApp.use(requireCsrfToken());
  // Signing out revokes the session at once; behind Access it also ends the Access session.
  consoleApp.post("/logout", async (c) => {
    await endSession(c);
    return c.redirect(readAdminIdentity(c.env).access ? ACCESS_LOGOUT_PATH : "/console/login", 303);
  });
  consoleApp.route("/", overview);
  consoleApp.route("/events", eventList);
  consoleApp.route("/events", eventBulkReplay);
  consoleApp.route("/events", eventPage);
  consoleApp.route("/", entityPages);
  consoleApp.route("/", entityLists);
  consoleApp.route("/", patientList);
  consoleApp.route("/patients", patientPage);
  consoleApp.route("/", notificationList);
  consoleApp.route("/search", searchPage);
  consoleApp.route("/notifications", notificationSend);
  consoleApp.route("/alerts", alertsPage);
  consoleApp.route("/inbound-replies", inboundReplyPage);
  consoleApp.route("/audit", auditPage);
  consoleApp.route("/clinics", clinicsPage);
  consoleApp.route("/destinations", destinationsPage);
  consoleApp.route("/destinations", deliveryReplay);

  consoleApp.onError((error, c) => {
    if (error instanceof HTTPException && error.res) return error.getResponse();
    // A contract error raised before any page (the sign-in's body cap): the one error shape.
    const contractError = contractAnswer(c, error);
    if (contractError) return contractError;
    if (error instanceof ConfigError) {
      log.error("misconfigured", { request_id: c.get("requestId"), variable: error.variable });
    } else {
      log.error("console error", { request_id: c.get("requestId"), path: c.req.path, error: errorKind(error) });
    }
    return c.html(
      <Layout title="Something went wrong">
        <Notice kind="error">The console could not show this page; see the receiver's logs.</Notice>
      </Layout>,
      500,
    );
  });
  return consoleApp;
}

import type { App } from "../http/types";

/** The console's Hono environment: the app's, plus who is signed in and the request's clock. */
export type ConsoleApp = {
  Bindings: Env;
  Variables: App["Variables"] & {
    /** The instant this request decides by (session expiry, "how long ago", chart windows). */
    now: Date;
    /** Who is signed in, e.g. `token:admin`; set by the identity middleware. */
    actor: string;
    /** The session's CSRF token, rendered into every form. */
    csrfToken: string;
  };
};

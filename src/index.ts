import { app } from "./http/app";

/** Wiring only: each handler lives in its own folder (see README "Layout"). */
export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;

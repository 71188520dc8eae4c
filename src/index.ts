import { app } from "./http/app";
import { queue } from "./queue/dispatch";
import { scheduled } from "./scheduled/dispatch";

/** Wiring only: each handler lives in its own folder (see README "Layout"). */
export default {
  fetch: app.fetch,
  queue,
  scheduled,
} satisfies ExportedHandler<Env>;

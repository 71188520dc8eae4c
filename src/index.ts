import { app } from "./http/app";
import { queue } from "./queue/dispatch";
import { scheduled } from "./scheduled/dispatch";

/** Wiring only: each handler lives in its own folder (see docs/architecture.md, "Where does X live"). */
export default {
  fetch: app.fetch,
  queue,
  scheduled,
} satisfies ExportedHandler<Env>;

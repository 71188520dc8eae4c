import { beforeEach } from "vitest";
import { holdConsole } from "../helpers/log-buffer";

// A green test prints nothing of the Worker's logs; a failing one prints the lines it caused, after
// its failure. Lines written between tests (a queue consumer still draining) are dropped with the next clear.
const consoleHold = holdConsole(console);

beforeEach(({ onTestFailed }) => {
  consoleHold.clear();
  onTestFailed(() => {
    consoleHold.flush();
  });
});

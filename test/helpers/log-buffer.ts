/**
 * Holds the Worker's log lines of the running test and prints them only if it fails, so a green
 * `npm test` prints Vitest's summary rather than thousands of JSON lines. The Worker writes through
 * `console` (src/log.ts) and runs in the tests' isolate; Vitest does not intercept that console
 * (`disableConsoleIntercept`, see test/vitest.config.ts), so the lines are held here instead.
 * Spies (`vi.spyOn(console, "log")`, the PHI canaries) wrap the holding methods and still see every line.
 */
export const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"] as const;
type Method = (typeof CONSOLE_METHODS)[number];
type Writer = (...args: unknown[]) => void;

export function holdConsole(target: Pick<Console, Method>) {
  const originals = Object.fromEntries(CONSOLE_METHODS.map((method) => [method, target[method]])) as Record<
    Method,
    Writer
  >;
  let held: [Method, unknown[]][] = [];
  for (const method of CONSOLE_METHODS) {
    target[method] = (...args: unknown[]) => {
      held.push([method, args]);
    };
  }
  return {
    /** Lines held since the last `clear`, for tests of this helper. */
    held: () => held.map(([method, args]) => [method, ...args]),
    clear: () => {
      held = [];
    },
    /** Writes the held lines through the original console, in order, and forgets them. */
    flush: () => {
      const lines = held;
      held = [];
      for (const [method, args] of lines) originals[method].apply(target, args);
    },
    restore: () => {
      for (const method of CONSOLE_METHODS) target[method] = originals[method];
    },
  };
}

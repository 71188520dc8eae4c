/**
 * Structured JSON log lines for Workers Logs. Only identifiers, types, statuses, counts and durations
 * go through here: the field type admits no objects, so a payload cannot be logged by accident, and
 * callers never pass names, addresses, phone numbers, email addresses or medication names.
 */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

type Level = "debug" | "info" | "warn" | "error";

function write(level: Level, message: string, fields: LogFields): void {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const log = {
  debug: (message: string, fields: LogFields = {}) => write("debug", message, fields),
  info: (message: string, fields: LogFields = {}) => write("info", message, fields),
  warn: (message: string, fields: LogFields = {}) => write("warn", message, fields),
  error: (message: string, fields: LogFields = {}) => write("error", message, fields),
};

/**
 * The name of an error, for a log line: its class name, never its message, because messages from
 * drivers and providers may quote the data they failed on.
 */
export function errorKind(error: unknown): string {
  if (error instanceof Error) return error.name || "Error";
  return typeof error;
}

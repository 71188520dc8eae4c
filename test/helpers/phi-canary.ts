import { vi } from "vitest";

/**
 * Canary PHI: values that must never reach a log line, an error message or a response body.
 * Each is distinctive enough that a match can only mean a leak.
 */
export const CANARY = {
  name: "Zebulon Canaryfield",
  address: "742 Canarywood Terrace",
  city: "Canaryville",
  phone: "+15550199876",
  email: "zebulon.canary@example.org",
  medication: "Canarycillin 250mg",
} as const;

export const CANARY_VALUES: string[] = Object.values(CANARY);

/** Captures everything written to the console until `stop()` and returns it as one string. */
export function captureConsole() {
  const lines: string[] = [];
  const spies = (["log", "info", "warn", "error", "debug"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((arg) => (typeof arg === "string" ? arg : safeStringify(arg))).join(" "));
    }),
  );
  return {
    output: () => lines.join("\n"),
    /** Stops capturing (the file's afterEach restores the spies too, should the test fail first). */
    stop: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

function safeStringify(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ""}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** The canary values found in `text` (case-insensitive); empty when nothing leaked. */
export function leakedCanaries(text: string): string[] {
  const lower = text.toLowerCase();
  return CANARY_VALUES.filter((value) => lower.includes(value.toLowerCase()));
}

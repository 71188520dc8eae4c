import { exports } from "cloudflare:workers";
import { vi } from "vitest";
import { ADMIN_TOKEN } from "./events";

/** A benchmarking-range address, fresh per call, so tests of 401s never trip each other's failure limit. */
export function randomClientAddress(): string {
  const octet = () => Math.floor(Math.random() * 254) + 1;
  return `198.18.${octet()}.${octet()}`;
}

/**
 * Waits for the failure limiter's next window when this one ends within `needMs`. The limiter counts
 * in fixed one-minute windows of real time, aligned to the wall clock (not ours to clock): a test that
 * counts exactly to its limit must run inside one window, whatever second of the minute it starts in.
 * The timer is real: `vi.setSystemTime` mocks `Date` alone.
 */
export async function insideOneLimiterWindow(needMs = 2_000): Promise<void> {
  // The suite's Date is frozen at TEST_NOW (test/setup/clock.ts); the limiter runs on the real one.
  const left = 60_000 - (vi.getRealSystemTime() % 60_000);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

/** Calls the admin API with the test admin token (or `token`, or none when null). */
export function adminFetch(
  path: string,
  init: RequestInit = {},
  token: string | null = ADMIN_TOKEN,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  // Failed authentications are rate limited per client: each call is its own client unless it says.
  if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", randomClientAddress());
  return exports.default.fetch(`https://receiver.test/admin${path}`, { ...init, headers });
}

export async function adminJson<T = Record<string, unknown>>(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const response = await adminFetch(path, init);
  return { status: response.status, body: (await response.json()) as T };
}

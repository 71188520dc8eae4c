import { exports } from "cloudflare:workers";
import { ADMIN_TOKEN } from "./events";

/** A benchmarking-range address, fresh per call, so tests of 401s never trip each other's failure limit. */
export function randomClientAddress(): string {
  const octet = () => Math.floor(Math.random() * 254) + 1;
  return `198.18.${octet()}.${octet()}`;
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

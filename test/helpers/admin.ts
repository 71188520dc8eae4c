import { exports } from "cloudflare:workers";
import { ADMIN_TOKEN } from "./events";

/** Calls the admin API with the test admin token (or `token`, or none when null). */
export function adminFetch(
  path: string,
  init: RequestInit = {},
  token: string | null = ADMIN_TOKEN,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return exports.default.fetch(`https://receiver.test/admin${path}`, { ...init, headers });
}

export async function adminJson<T = Record<string, unknown>>(
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const response = await adminFetch(path, init);
  return { status: response.status, body: (await response.json()) as T };
}

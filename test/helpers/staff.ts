import type { setupServer } from "msw/native";
import { beforeAll, expect } from "vitest";
import * as accessHelpers from "./access";
import { randomClientAddress } from "./admin";
import { adminFetchWith, fetchWith } from "./clinics";
import { useMockNetwork } from "./msw";

/** Adds a staff row through `PUT /admin/staff/:identity` (as the admin token); returns its identity. */
export async function addStaff(adminEnv: Env, role: string, clinics: string[] | "all"): Promise<string> {
  const identity = `${role}-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
  const response = await adminFetchWith(adminEnv, `/staff/${identity}`, {
    method: "PUT",
    body: JSON.stringify({ role, clinics }),
  });
  expect(response.status).toBe(200);
  return identity;
}

/**
 * A fetcher signed in as the Access identity `identity` (the team's keys served through `server`):
 * `path` is absolute (`/admin/…`, `/console/…`); a JSON body gets its content type, and each call
 * comes from its own client address so no failure limit is shared.
 */
export async function asIdentity(
  server: ReturnType<typeof setupServer>,
  team: accessHelpers.AccessKeyPair,
  workerEnv: Env,
  identity: string,
): Promise<(path: string, init?: RequestInit) => Promise<Response>> {
  accessHelpers.serveAccessKeys(server, team);
  const assertion = await accessHelpers.signAccessToken(team, accessHelpers.accessClaims(identity));
  return (path, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("cf-access-jwt-assertion", assertion);
    headers.set("cf-connecting-ip", randomClientAddress());
    if (typeof init.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json");
    return fetchWith(workerEnv, new Request(`https://receiver.test${path}`, { ...init, headers }));
  };
}

/**
 * A test file's Access team and mock network: `signedIn(workerEnv, identity)` is {@link asIdentity}
 * with the file's team (generated once), `server` the file's MSW server.
 */
export function useAccessTeam() {
  const server = useMockNetwork();
  let team: accessHelpers.AccessKeyPair | undefined;
  beforeAll(async () => {
    team = await accessHelpers.generateAccessKeys();
  });
  return {
    server,
    signedIn(workerEnv: Env, identity: string) {
      if (!team) throw new Error("the Access team is generated in beforeAll");
      return asIdentity(server, team, workerEnv, identity);
    },
  };
}

/** A deployment of two fresh clinics A and B, Access configured (the admin token still an admin of both). */
export function twoClinicAccess(overrides: Record<string, string> = {}) {
  const a = crypto.randomUUID();
  const b = crypto.randomUUID();
  return { a, b, workerEnv: accessHelpers.accessEnv({ NOVAMED_CLINIC_IDS: `${a},${b}`, ...overrides }) };
}

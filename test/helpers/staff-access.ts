import type { setupServer } from "msw/native";
import { beforeAll, expect } from "vitest";
import { type AccessKeyPair, accessClaims, generateAccessKeys, serveAccessKeys, signAccessToken } from "./access";
import { randomClientAddress } from "./admin";
import { adminFetchWith, fetchWith } from "./clinics";

/**
 * Staff members signed in through Cloudflare Access, for tests of roles and clinic scoping: `member`
 * adds a staff row (with the admin token) and `as` calls the admin API as that identity.
 */
export function useStaffAccess(server: ReturnType<typeof setupServer>) {
  let team: AccessKeyPair;
  beforeAll(async () => {
    team = await generateAccessKeys();
  });
  return {
    async member(workerEnv: Env, role: string, clinics: string[] | "all"): Promise<string> {
      const identity = `${role}-${crypto.randomUUID().slice(0, 8)}@clinic.example`;
      const response = await adminFetchWith(workerEnv, `/staff/${identity}`, {
        method: "PUT",
        body: JSON.stringify({ role, clinics }),
      });
      expect(response.status).toBe(200);
      return identity;
    },
    async as(workerEnv: Env, identity: string, path: string, init: RequestInit = {}): Promise<Response> {
      serveAccessKeys(server, team);
      const headers = new Headers(init.headers);
      headers.set("cf-access-jwt-assertion", await signAccessToken(team, accessClaims(identity)));
      headers.set("cf-connecting-ip", randomClientAddress());
      if (init.body !== undefined) headers.set("content-type", "application/json");
      return fetchWith(workerEnv, new Request(`https://receiver.test/admin${path}`, { ...init, headers }));
    },
  };
}

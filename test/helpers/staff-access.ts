import type { setupServer } from "msw/native";
import { useAccessTeam } from "./access";
import { randomClientAddress } from "./admin";
import { fetchWith } from "./clinics";
import { consoleFetch } from "./console";
import { addStaff } from "./staff";

/**
 * Staff members signed in through Cloudflare Access, for tests of roles and clinic scoping: `member`
 * adds a staff row (with the admin token), `as` calls the admin API as that identity and `console`
 * opens the console as it (a form may repeat a field).
 */
export function useStaffAccess(server: ReturnType<typeof setupServer>) {
  const team = useAccessTeam(server);
  return {
    member: (workerEnv: Env, role: string, clinics: string[] | "all") => addStaff(workerEnv, role, clinics),
    as: team.adminFetch,
    /** The console as `identity`: `path` as a GET, or a POST of `form` (pairs repeat a field). */
    async console(workerEnv: Env, identity: string) {
      const headers = { "cf-access-jwt-assertion": await team.assertion(identity) };
      return (path: string, form?: Record<string, string> | [string, string][]) =>
        consoleFetch(path, { headers, ...(form ? { form } : {}) }, (request) => {
          request.headers.set("cf-connecting-ip", randomClientAddress());
          return fetchWith(workerEnv, request);
        });
    },
  };
}

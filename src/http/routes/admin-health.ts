import { Hono } from "hono";
import { configProblems } from "../../config/health";
import { tenancyProblems } from "../../tenancy/health";
import { requestScope } from "../middleware/staff-scope";
import type { App } from "../types";

/**
 * `GET /admin/health`: the configuration problems by variable name (never a value). `GET /health`
 * stays a liveness check; this one tells staff what to fix, for instance why notifications are held.
 * The deployment's variables concern every clinic, so every identity reads them; clinic by clinic
 * problems (a clinic without a key) are those of the identity's clinics only.
 */
export const adminHealth = new Hono<App>();

adminHealth.get("/", async (c) => {
  const problems = [...configProblems(c.env), ...(await tenancyProblems(c.env, requestScope(c)))];
  return c.json({ status: problems.length === 0 ? "ok" : "misconfigured", problems });
});

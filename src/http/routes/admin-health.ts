import { Hono } from "hono";
import { configProblems } from "../../config/health";
import { tenancyProblems } from "../../tenancy/health";
import type { App } from "../types";

/**
 * `GET /admin/health`: the configuration problems by variable name (never a value). `GET /health`
 * stays a liveness check; this one tells staff what to fix, for instance why notifications are held.
 */
export const adminHealth = new Hono<App>();

adminHealth.get("/", async (c) => {
  const problems = [...configProblems(c.env), ...(await tenancyProblems(c.env))];
  return c.json({ status: problems.length === 0 ? "ok" : "misconfigured", problems });
});

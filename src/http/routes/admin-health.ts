import { Hono } from "hono";
import { configProblems } from "../../config/health";
import type { App } from "../types";

/**
 * `GET /admin/health`: the configuration problems by variable name (never a value). `GET /health`
 * stays a liveness check; this one tells staff what to fix, for instance why notifications are held.
 */
export const adminHealth = new Hono<App>();

adminHealth.get("/", (c) => {
  const problems = configProblems(c.env);
  return c.json({ status: problems.length === 0 ? "ok" : "misconfigured", problems });
});

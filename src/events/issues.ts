import type { z } from "zod";

/** One validation problem, by path; never the submitted value. */
export interface ErrorIssue {
  path: string;
  message: string;
  /** A stable name for a warning staff may filter on (e.g. `timestamp_in_future`); absent for schema issues. */
  code?: string;
}

/**
 * zod issues as `{path, message}` pairs; zod's messages name types, not values. Used for an invalid
 * event's stored issues and for the API's 400 answers alike.
 */
export function toIssues(error: { issues: readonly z.core.$ZodIssue[] }): ErrorIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
}

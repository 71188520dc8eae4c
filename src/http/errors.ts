import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { type ErrorIssue, toIssues } from "../events/issues";

type IssueSource = { issues: readonly z.core.$ZodIssue[] };

export interface ErrorBody {
  error: { code: string; message: string; issues?: ErrorIssue[] };
}

/**
 * An error that already knows its place in the contract: status, snake_case code, one sentence.
 * Thrown from middleware and routes; `app.onError` turns it into the single error shape.
 */
export class ApiError extends HTTPException {
  readonly code: string;
  readonly issues?: ErrorIssue[];
  readonly headers?: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { issues?: ErrorIssue[]; headers?: Record<string, string> } = {},
  ) {
    super(status, { message });
    this.code = code;
    this.issues = options.issues;
    this.headers = options.headers;
  }

  body(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.issues ? { issues: this.issues } : {}),
      },
    };
  }
}

/**
 * The contract's answer to `error` when it is an {@link ApiError} (the one error shape, its status
 * and headers), or null for any other error; for an `onError` outside the HTTP app's (the console's).
 */
export function contractAnswer(c: Context, error: unknown): Response | null {
  return error instanceof ApiError ? c.json(error.body(), error.status, error.headers) : null;
}

/**
 * A `zValidator` hook that turns a failed check into the contract's 400 with issues (paths and
 * messages, never the submitted values).
 */
export function rejectInvalid(code: string, message: string) {
  return (result: { success: boolean; error?: IssueSource }) => {
    if (!result.success && result.error) throw new ApiError(400, code, message, { issues: toIssues(result.error) });
  };
}

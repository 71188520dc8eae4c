/**
 * One HTTP attempt at a clinic's endpoint, as every forwarding delivery (and the test ping) makes it:
 * a 15 s timeout, redirects not followed (a 3xx is a failure: the clinic must configure the final
 * URL), and an outcome that keeps the HTTP status, the latency, an error class and at most the first
 * 256 bytes of the answer, never more of what a clinic's server says.
 */

import { retryAfterSeconds } from "../outbox/backoff";

export const ATTEMPT_TIMEOUT_MS = 15_000;
export const RESPONSE_EXCERPT_BYTES = 256;

export type AttemptErrorClass = "redirect" | "client_error" | "server_error" | "timeout" | "network";

export interface AttemptResult {
  delivered: boolean;
  http_status: number | null;
  latency_ms: number;
  error_class: AttemptErrorClass | null;
  response_excerpt: string | null;
  /** Seconds asked for by `Retry-After` on a 429 or 503, when given. */
  retry_after_seconds: number | null;
}

async function excerpt(response: Response): Promise<string | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < RESPONSE_EXCERPT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, RESPONSE_EXCERPT_BYTES));
}

function errorClassOf(status: number): AttemptErrorClass | null {
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) return "redirect";
  if (status >= 400 && status < 500) return "client_error";
  return "server_error";
}

/** POSTs `body` with `headers` to `url` once; never throws. */
export async function attemptDelivery(
  url: string,
  headers: Record<string, string>,
  body: string,
  now: () => Date = () => new Date(),
): Promise<AttemptResult> {
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    const status = response.status;
    const retryAfter =
      status === 429 || status === 503 ? retryAfterSeconds(response.headers.get("retry-after"), now().getTime()) : null;
    return {
      delivered: status >= 200 && status < 300,
      http_status: status,
      latency_ms: Date.now() - started,
      error_class: errorClassOf(status),
      response_excerpt: await excerpt(response),
      retry_after_seconds: retryAfter,
    };
  } catch (error) {
    const timedOut = error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError");
    return {
      delivered: false,
      http_status: null,
      latency_ms: Date.now() - started,
      error_class: timedOut ? "timeout" : "network",
      response_excerpt: null,
      retry_after_seconds: null,
    };
  }
}

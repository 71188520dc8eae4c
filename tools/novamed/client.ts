/**
 * One call to NovaMed's webhook-management endpoint, exactly as the guide's curl examples make it.
 * The result is classified, never thrown: the CLI turns each kind into a message and an exit code.
 */
import { firstLine } from "../cli-kit.ts";

/** The only path NovaMed documents for managing webhooks (guide: "Register", "Delete a Webhook"). */
export const WEBHOOK_PATH = "/api/external/webhook";

export interface NovaMedRequest {
  /** Base URL without a trailing slash, e.g. https://novamed-feapidev.stackmod.info. */
  baseUrl: string;
  method: "POST" | "DELETE";
  apiKey: string;
  /** The JSON body: `{clinic_id, webhook_url}` or `{clinic_id, webhook_id}`. */
  body: Readonly<Record<string, string | undefined>>;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export type NovaMedResult =
  /** NovaMed answered with a status and a body we could read. `json` is undefined when it is not JSON. */
  | { kind: "answer"; status: number; text: string; json: unknown; contentType: string; location: string | null }
  /** No answer within the timeout. */
  | { kind: "timeout" }
  /** No connection: DNS, refused, reset, TLS. `reason` is a short, key-free description. */
  | { kind: "unreachable"; reason: string };

/** Sends one request to `{baseUrl}/api/external/webhook` and classifies what came back. */
export async function callNovaMed(request: NovaMedRequest): Promise<NovaMedResult> {
  const doFetch = request.fetch ?? fetch;
  const signal = AbortSignal.timeout(request.timeoutMs);
  try {
    const response = await doFetch(request.baseUrl + WEBHOOK_PATH, {
      method: request.method,
      headers: {
        "x-api-key": request.apiKey,
        "Content-Type": "application/json",
        Accept: "application/json",
      },
      body: JSON.stringify(request.body),
      // A redirected POST would silently become a GET; report redirects instead of following them.
      redirect: "manual",
      signal,
    });
    // The same signal bounds reading the body, so a server that stalls mid-body also times out.
    const text = await response.text();
    return {
      kind: "answer",
      status: response.status,
      text,
      json: parseJson(text),
      contentType: response.headers.get("content-type") ?? "",
      location: response.headers.get("location"),
    };
  } catch (error) {
    if (signal.aborted) return { kind: "timeout" };
    return { kind: "unreachable", reason: describeNetworkError(error) };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch reports every network failure as "fetch failed"; the useful part is in `cause.code`. */
function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the host name does not resolve";
    case "ECONNREFUSED":
      return "the connection was refused";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "the connection was closed before an answer";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "the network cannot reach the host";
    case undefined: {
      // e.g. undici's "bad port" for ports fetch refuses to use.
      const message = typeof cause?.message === "string" ? firstLine(cause.message).trim() : "";
      return message ? `network error (${message.slice(0, 80)})` : "network error";
    }
    default:
      if (code.startsWith("CERT_") || code.includes("TLS") || code.includes("SSL")) {
        return `the TLS handshake failed (${code})`;
      }
      return `network error ${code}`;
  }
}

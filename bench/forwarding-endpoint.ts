/**
 * The clinic's endpoint of the forwarding pass (bench/forwarding.ts): a Node HTTP server on 127.0.0.1
 * that verifies every delivery's Standard Webhooks signature with the maintained `standardwebhooks`
 * package, answers slowly, refuses a share of the requests with a 500 and records every `webhook-id`
 * it accepted with a 2xx. Which request fails and how long each waits is decided from a seed, the
 * change's `webhook-id` and how many times that id came before, so a pass is the same whatever order
 * the deliveries arrive in. While `down()` says so it answers 503 at once (an outage behind a load
 * balancer). The accounting (lost, delivered more than once) is {@link account}.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/** How long each answer waits, in ms: uniform over this range (inclusive), chosen per request. */
export const ENDPOINT_DELAY_MS = { min: 50, max: 200 } as const;
/** The package's tolerance for `webhook-timestamp`, as it applies it against `Date.now()`. */
const TIMESTAMP_TOLERANCE_S = 5 * 60;

/** A number in [0, 1) from the seed, the change id and the try (its nth request at this endpoint). */
export function draw(seed: number, webhookId: string, attempt: number, purpose: string): number {
  const digest = createHash("sha256").update(`${purpose}:${seed}:${webhookId}:${attempt}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** Whether the endpoint refuses this try (a 500), at `rate` of all tries. */
export const failsAt = (seed: number, webhookId: string, attempt: number, rate: number): boolean =>
  draw(seed, webhookId, attempt, "fail") < rate;

/** How long the endpoint waits before answering this try, within {@link ENDPOINT_DELAY_MS}. */
export const delayFor = (seed: number, webhookId: string, attempt: number): number =>
  ENDPOINT_DELAY_MS.min +
  Math.floor(draw(seed, webhookId, attempt, "delay") * (ENDPOINT_DELAY_MS.max - ENDPOINT_DELAY_MS.min + 1));

/** What the endpoint saw of one `webhook-id`. */
export interface Seen {
  /** Requests that carried this id (signature verified). */
  requests: number;
  /** Of them, answered 2xx: the change was delivered (more than 1: delivered more than once). */
  ok: number;
  /** When the first 2xx was answered (epoch ms on the endpoint's clock: the simulated one when given). */
  firstOkAt: number | null;
}

/** The pass's outcome from the change feed's ids and what the endpoint accepted. */
export interface Accounting {
  changes: number;
  /** Feed changes the endpoint accepted at least once. */
  delivered: number;
  /** Feed changes never accepted: must be 0. */
  lost: number;
  /** Feed changes accepted more than once (allowed: receivers deduplicate by `webhook-id`). */
  duplicates_delivered: number;
  /** 2xx answers beyond the first per change. */
  extra_deliveries: number;
  /** Ids accepted that the feed does not hold (should be 0). */
  unknown_ids: number;
}

export function account(feedIds: Iterable<string>, seen: ReadonlyMap<string, Seen>): Accounting {
  const feed = new Set(feedIds);
  let delivered = 0;
  let duplicates = 0;
  let extra = 0;
  for (const id of feed) {
    const ok = seen.get(id)?.ok ?? 0;
    if (ok > 0) delivered += 1;
    if (ok > 1) duplicates += 1;
    extra += Math.max(0, ok - 1);
  }
  const unknown = [...seen].filter(([id, entry]) => entry.ok > 0 && !feed.has(id)).length;
  return {
    changes: feed.size,
    delivered,
    lost: feed.size - delivered,
    duplicates_delivered: duplicates,
    extra_deliveries: extra,
    unknown_ids: unknown,
  };
}

/**
 * The package's verifier. With `clock` (a simulated one, epoch ms) the timestamp check is the
 * package's own rule (±5 minutes) against that clock instead of `Date.now()`; the signature is still
 * checked by the package.
 */
export function verifier(secret: string, clock?: () => number): Webhook {
  const webhook = new Webhook(secret);
  if (!clock) return webhook;
  const checked = webhook as unknown as { verifyTimestamp(header: string): Date };
  checked.verifyTimestamp = (header: string) => {
    const now = Math.floor(clock() / 1000);
    const timestamp = Number.parseInt(header, 10);
    if (Number.isNaN(timestamp) || Math.abs(now - timestamp) > TIMESTAMP_TOLERANCE_S)
      throw new Error("webhook-timestamp outside the tolerance");
    return new Date(timestamp * 1000);
  };
  return webhook;
}

export interface EndpointOptions {
  seed: number;
  /** Share of tries refused with a 500, in [0, 1]. */
  failureRate: number;
  /** While true, every request is answered 503 at once (no `Retry-After`). */
  down?: () => boolean;
  /** A simulated clock for the timestamp check (epoch ms); the wall clock when absent. */
  clock?: () => number;
  /** Waits `ms` before an answer (tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
}

export interface Endpoint {
  url: string;
  /** Sets the destination's signing secret (answered once by `PUT /admin/destinations/:id`). */
  setSecret(secret: string): void;
  seen: Map<string, Seen>;
  figures(): {
    requests: number;
    answered_2xx: number;
    refused_injected: number;
    answered_503_down: number;
    signature_failures: number;
  };
  stop(): Promise<void>;
}

/** Starts the endpoint on a free 127.0.0.1 port. */
export async function startEndpoint(options: EndpointOptions): Promise<Endpoint> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const seen = new Map<string, Seen>();
  let webhook: Webhook | null = null;
  const counts = { requests: 0, answered_2xx: 0, refused_injected: 0, answered_503_down: 0, signature_failures: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      counts.requests += 1;
      const answer = (status: number) => response.writeHead(status).end();
      const headers = Object.fromEntries(
        Object.entries(request.headers).flatMap(([name, value]) => (typeof value === "string" ? [[name, value]] : [])),
      );
      if (options.down?.()) {
        counts.answered_503_down += 1;
        return answer(503);
      }
      const body = Buffer.concat(chunks).toString("utf8");
      try {
        if (!webhook) throw new Error("no secret yet");
        webhook.verify(body, headers);
      } catch {
        counts.signature_failures += 1;
        return answer(401);
      }
      const id = headers["webhook-id"]!;
      const entry = seen.get(id) ?? { requests: 0, ok: 0, firstOkAt: null };
      seen.set(id, entry);
      entry.requests += 1;
      const attempt = entry.requests;
      await sleep(delayFor(options.seed, id, attempt));
      if (failsAt(options.seed, id, attempt, options.failureRate)) {
        counts.refused_injected += 1;
        return answer(500);
      }
      entry.ok += 1;
      entry.firstOkAt ??= (options.clock ?? Date.now)();
      counts.answered_2xx += 1;
      answer(204);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/novamed`,
    setSecret: (secret) => {
      webhook = verifier(secret, options.clock);
    },
    seen,
    figures: () => ({ ...counts }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

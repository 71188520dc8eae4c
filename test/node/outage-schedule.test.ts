import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DEAD_LETTER_MAX_RETRIES,
  DEAD_LETTER_RESPOOL_FROM_ATTEMPT,
  deadLetterRetryDelaySeconds,
  QUEUES_MAX_DELAY_SECONDS,
  RESPOOL_RETRY_DELAY_SECONDS,
  retryDelaySeconds,
} from "../../src/backoff.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const HOUR = 3600;
/** Cloudflare Queues' default message retention (4 days); wrangler.toml cannot change it. */
const DEFAULT_RETENTION_SECONDS = 96 * HOUR;

/** `max_retries` of each `[[queues.consumers]]` block of wrangler.toml, by queue name. */
function consumerRetries(): Map<string, number> {
  const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const retries = new Map<string, number>();
  for (const block of toml.split("[[queues.consumers]]").slice(1)) {
    const queue = /^queue\s*=\s*"([^"]+)"/m.exec(block)?.[1];
    const maxRetries = /^max_retries\s*=\s*(\d+)/m.exec(block)?.[1];
    if (queue && maxRetries) retries.set(queue, Number(maxRetries));
  }
  return retries;
}

/**
 * Seconds a message waits across `retries` retries, each delay at its shortest (`random` 0) or
 * longest (`random` 1) jitter.
 */
function schedule(retries: number, delay: (attempts: number, random: () => number) => number, random: number): number {
  let total = 0;
  for (let attempts = 1; attempts <= retries; attempts += 1) total += delay(attempts, () => random);
  return total;
}

describe("the survivable D1 outage, computed from the configuration", () => {
  const retries = consumerRetries();
  const mainRetries = retries.get("novamed-events") ?? 0;
  const deadLetterRetries = retries.get("novamed-events-dlq") ?? 0;

  it("keeps wrangler.toml and the dead-letter consumer's idea of its last delivery equal", () => {
    expect(deadLetterRetries).toBe(DEAD_LETTER_MAX_RETRIES);
  });

  it("retries an acknowledged event for at least 72 hours before the dead-letter queue re-spools it", () => {
    // Counted conservatively: the last delivery of the main queue does not retry (it hands over to
    // the dead-letter queue), the dead-letter queue re-spools from its 14th delivery, and every delay
    // is at its shortest.
    const shortest =
      schedule(mainRetries - 1, retryDelaySeconds, 0) +
      schedule(DEAD_LETTER_RESPOOL_FROM_ATTEMPT - 1, deadLetterRetryDelaySeconds, 0);
    expect(shortest).toBeGreaterThanOrEqual(72 * HOUR);
  });

  it("leaves several deliveries after the first re-spool, all inside the queue's default retention", () => {
    // Deliveries from the first re-spool to the last (max_retries + 1) each re-spool again if the
    // one before failed: a failed send is never the message's end.
    const respoolTries = deadLetterRetries + 1 - DEAD_LETTER_RESPOOL_FROM_ATTEMPT + 1;
    expect(respoolTries).toBeGreaterThanOrEqual(5);
    const longest =
      schedule(DEAD_LETTER_RESPOOL_FROM_ATTEMPT - 1, deadLetterRetryDelaySeconds, 1) +
      (respoolTries - 1) * RESPOOL_RETRY_DELAY_SECONDS;
    expect(longest).toBeLessThan(DEFAULT_RETENTION_SECONDS);
  });

  it("never asks Queues for a delay over its 12-hour maximum", () => {
    for (let attempts = 1; attempts <= 100; attempts += 1) {
      expect(deadLetterRetryDelaySeconds(attempts, () => 1)).toBeLessThanOrEqual(QUEUES_MAX_DELAY_SECONDS);
      expect(retryDelaySeconds(attempts, () => 1)).toBeLessThanOrEqual(QUEUES_MAX_DELAY_SECONDS);
    }
  });
});

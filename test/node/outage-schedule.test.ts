import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DEAD_LETTER_MAX_RETRIES,
  deadLetterRetryDelaySeconds,
  QUEUES_MAX_DELAY_SECONDS,
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
    // Counted conservatively: the last delivery of each queue does not retry (the main queue hands
    // over to the dead-letter queue, which re-spools), and every delay at its shortest.
    const shortest =
      schedule(mainRetries - 1, retryDelaySeconds, 0) + schedule(deadLetterRetries - 1, deadLetterRetryDelaySeconds, 0);
    expect(shortest).toBeGreaterThanOrEqual(72 * HOUR);
  });

  it("keeps one dead-letter message's whole schedule inside the queue's default retention", () => {
    const longest = schedule(deadLetterRetries, deadLetterRetryDelaySeconds, 1);
    expect(longest).toBeLessThan(DEFAULT_RETENTION_SECONDS);
  });

  it("never asks Queues for a delay over its 12-hour maximum", () => {
    for (let attempts = 1; attempts <= 100; attempts += 1) {
      expect(deadLetterRetryDelaySeconds(attempts, () => 1)).toBeLessThanOrEqual(QUEUES_MAX_DELAY_SECONDS);
      expect(retryDelaySeconds(attempts, () => 1)).toBeLessThanOrEqual(QUEUES_MAX_DELAY_SECONDS);
    }
  });
});

/** First retry delay; each further attempt doubles it. */
const BASE_DELAY_SECONDS = 10;
/** Cap on one delay: 15 minutes keeps ten retries within about an hour, like NovaMed's own schedule. */
export const MAX_DELAY_SECONDS = 15 * 60;

/**
 * Exponential backoff with jitter for a message on its `attempts`-th delivery (1-based): between half
 * and all of `BASE · 2^(attempts-1)`, capped. Jitter spreads retries of a failed batch apart so they
 * do not hit D1 together again.
 */
export function retryDelaySeconds(attempts: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 20));
  const ceiling = Math.min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** exponent);
  return Math.max(1, Math.round(ceiling / 2 + (ceiling / 2) * random()));
}

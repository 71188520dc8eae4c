/**
 * How long a test waits for the local queues to deliver (`vi.waitFor(check, WAIT)`): generous,
 * since a loaded 2-core machine delivers in seconds what an idle one does at once. A bound on a hang,
 * not a timing.
 */
export const WAIT = { timeout: 10_000, interval: 50 } as const;

import type { Lease } from "../db/outbox";

export type { Lease } from "../db/outbox";

/** A new lease for one run of a claimer: a fresh token, held `durationMs` from `nowMs`. */
export function newLease(nowMs: number, durationMs: number): Lease {
  return { token: crypto.randomUUID(), expiresAt: nowMs + durationMs };
}

/**
 * Whether a call that may take `callMs` from `nowMs`, plus `marginMs` to record its answer, still
 * ends inside the lease. A call that could outlive it would race the claimer that takes the row over.
 */
export function leaseCovers(lease: Lease, nowMs: number, callMs: number, marginMs: number): boolean {
  return nowMs + callMs + marginMs <= lease.expiresAt;
}

import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AlertRow } from "../../src/db/alerts";
import worker from "../../src/index";
import { CRONS } from "../../src/scheduled/dispatch";
import { setClock } from "./clock";
import { type EnvelopeLike, makeEvent } from "./events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "./queue";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** Runs the 5-minute cron (notification sweep and lifecycle watch) at `at`, with env overrides. */
export async function runWatch(at: number, overrides: Record<string, string> = {}): Promise<void> {
  setClock(at);
  const controller = createScheduledController({ scheduledTime: new Date(at), cron: CRONS.notificationSweep });
  await worker.scheduled(controller, { ...env, ...overrides } as Env);
}

/** Applies an event of `type` that happened (and reached the receiver) at `at`, through the consumer. */
export async function applyAt(at: number, type: string, data: Record<string, unknown>, clinicId?: string) {
  setClock(at);
  const event: EnvelopeLike = makeEvent(type, { data, ...(clinicId ? { clinic_id: clinicId } : {}) });
  await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
  return event;
}

/** Every alert on `targetId` (any rule), oldest first. */
export async function alertsOn(targetId: string, rule?: string): Promise<AlertRow[]> {
  const { results } = await env.DB.prepare(
    `SELECT * FROM alerts WHERE target_id = ?1 AND (?2 IS NULL OR rule = ?2) ORDER BY opened_at, alert_id`,
  )
    .bind(targetId, rule ?? null)
    .all<AlertRow>();
  return results;
}

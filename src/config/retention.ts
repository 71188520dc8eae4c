import { z } from "zod";
import { settingsReader, withDefault } from "./read";

/**
 * The daily jobs' settings, one reader per job: each job reads only its own variable, so a malformed
 * one (`EVENT_ROW_RETENTION_DAYS=14d`) stops that job alone and the others still run.
 */

const days = () =>
  z
    .string()
    .transform(Number)
    .refine((value) => Number.isInteger(value) && value >= 0, { error: "is not a non-negative integer" });

/** A reader of one days variable with its default (a ConfigError names it when malformed). */
const daysReader = (variable: string, fallback: string) =>
  settingsReader(() =>
    z.object({ [variable]: withDefault(fallback, days()) }).transform((vars): number => vars[variable] ?? 0),
  );

/** `PAYLOAD_RETENTION_DAYS`: days an event's payload is kept; 0 disables the purge. */
export const readPayloadRetentionDays = daysReader("PAYLOAD_RETENTION_DAYS", "30");

/**
 * `AUDIT_RETENTION_DAYS`: days audit rows are kept: six years, HIPAA's retention for security
 * documentation. 0 keeps them forever.
 */
export const readAuditRetentionDays = daysReader("AUDIT_RETENTION_DAYS", "2190");

/**
 * `EVENT_ROW_RETENTION_DAYS`: days a final event row (and a final notification row) is kept before the
 * compaction deletes it; 0 (the default) keeps them forever. Any value is far beyond NovaMed's retry
 * horizon (about 1 h 21 min), so deduplication of its redeliveries is unaffected.
 */
export const readEventRowRetentionDays = daysReader("EVENT_ROW_RETENTION_DAYS", "0");

/** The change feed's days when `CHANGE_FEED_DAYS` is unset. */
export const DEFAULT_CHANGE_FEED_DAYS = 30;

/**
 * `CHANGE_FEED_DAYS`: days the change feed (`GET /admin/changes`, forwarding) keeps a change, at
 * least 1. A poller away longer than that misses changes; a destination loses none (a change whose
 * fan-out or delivery is pending stays). The archive does not shorten it, so at high volume it is
 * what D1 holds besides the recent history: about 30 MB a day at 100,000 events a day.
 */
export const readChangeFeedDays = settingsReader(() =>
  z
    .object({
      CHANGE_FEED_DAYS: withDefault(
        String(DEFAULT_CHANGE_FEED_DAYS),
        days().refine((value) => value >= 1, { error: "is not at least 1" }),
      ),
    })
    .transform((vars): number => vars.CHANGE_FEED_DAYS),
);

export interface RetentionSettings {
  payloadRetentionDays: number;
  auditRetentionDays: number;
  eventRowRetentionDays: number;
  changeFeedDays: number;
}

/** All four at once (for the configuration report); throws a ConfigError naming the first malformed one. */
export function readRetentionSettings(env: Env): RetentionSettings {
  return {
    payloadRetentionDays: readPayloadRetentionDays(env),
    auditRetentionDays: readAuditRetentionDays(env),
    eventRowRetentionDays: readEventRowRetentionDays(env),
    changeFeedDays: readChangeFeedDays(env),
  };
}

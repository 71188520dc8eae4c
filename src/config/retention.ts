import { z } from "zod";
import { settingsReader, withDefault } from "./read";

/**
 * The daily jobs' settings, one reader per job: each job reads only its own variable, so a malformed
 * one (`EVENT_ROW_RETENTION_DAYS=14d`) stops that job alone and the others still run.
 */

const days = (minimum: number) =>
  z
    .string()
    .transform(Number)
    .refine((value) => Number.isInteger(value) && value >= 0, { error: "is not a non-negative integer" })
    .refine((value) => value >= minimum, { error: `is not at least ${minimum}` });

/** A reader of one days variable with its default and least value (a ConfigError names it when malformed). */
const daysReader = (variable: string, fallback: string, minimum = 0) =>
  settingsReader(() =>
    z.object({ [variable]: withDefault(fallback, days(minimum)) }).transform((vars): number => vars[variable] ?? 0),
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
export const readChangeFeedDays = daysReader("CHANGE_FEED_DAYS", String(DEFAULT_CHANGE_FEED_DAYS), 1);

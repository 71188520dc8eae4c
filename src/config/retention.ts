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

export interface RetentionSettings {
  payloadRetentionDays: number;
  auditRetentionDays: number;
  eventRowRetentionDays: number;
}

/** All three at once (for the configuration report); throws a ConfigError naming the first malformed one. */
export function readRetentionSettings(env: Env): RetentionSettings {
  return {
    payloadRetentionDays: readPayloadRetentionDays(env),
    auditRetentionDays: readAuditRetentionDays(env),
    eventRowRetentionDays: readEventRowRetentionDays(env),
  };
}

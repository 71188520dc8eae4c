import { z } from "zod";
import { settingsReader, withDefault } from "./read";

const days = () =>
  z
    .string()
    .transform(Number)
    .refine((value) => Number.isInteger(value) && value >= 0, { error: "is not a non-negative integer" });

const retentionSchema = () =>
  z
    .object({
      /** Days an event's payload is kept; 0 disables the purge. */
      PAYLOAD_RETENTION_DAYS: withDefault("30", days()),
      /** Days audit rows are kept: six years, HIPAA's retention for security documentation. 0 keeps them forever. */
      AUDIT_RETENTION_DAYS: withDefault("2190", days()),
      /**
       * Days a final event row (and a final notification row) is kept before the compaction deletes
       * it; 0 (the default) keeps them forever. Any value is far beyond NovaMed's retry horizon
       * (about 1 h 21 min), so deduplication of its redeliveries is unaffected.
       */
      EVENT_ROW_RETENTION_DAYS: withDefault("0", days()),
    })
    .transform((vars) => ({
      payloadRetentionDays: vars.PAYLOAD_RETENTION_DAYS,
      auditRetentionDays: vars.AUDIT_RETENTION_DAYS,
      eventRowRetentionDays: vars.EVENT_ROW_RETENTION_DAYS,
    }));

export type RetentionSettings = z.output<ReturnType<typeof retentionSchema>>;

/** The retention job's settings; throws a ConfigError naming a malformed variable. */
export const readRetentionSettings = settingsReader(retentionSchema);

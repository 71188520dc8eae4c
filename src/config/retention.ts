import { z } from "zod";
import { settingsReader, withDefault } from "./read";

const days = z
  .string()
  .transform(Number)
  .refine((value) => Number.isInteger(value) && value >= 0, { error: "is not a non-negative integer" });

const retentionSchema = z
  .object({
    /** Days an event's payload is kept; 0 disables the purge. */
    PAYLOAD_RETENTION_DAYS: withDefault("30", days),
    /** Days audit rows are kept: six years, HIPAA's retention for security documentation. 0 keeps them forever. */
    AUDIT_RETENTION_DAYS: withDefault("2190", days),
  })
  .transform((vars) => ({
    payloadRetentionDays: vars.PAYLOAD_RETENTION_DAYS,
    auditRetentionDays: vars.AUDIT_RETENTION_DAYS,
  }));

export type RetentionSettings = z.output<typeof retentionSchema>;

/** The retention job's settings; throws a ConfigError naming a malformed variable. */
export const readRetentionSettings = settingsReader(retentionSchema);

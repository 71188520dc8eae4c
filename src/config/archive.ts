import { z } from "zod";
import { settingsReader, withDefault } from "./read";

/** A whole number of days, at least 1. */
const wholeDays = () =>
  z
    .string()
    .transform(Number)
    .refine((value) => Number.isInteger(value) && value >= 1, { error: "is not a whole number of days (1 or more)" });

const archiveSchema = () =>
  z
    .object({
      /**
       * Days finished history stays in D1 before the daily job moves it to the R2 bucket `ARCHIVE`
       * (src/archive/); at least 1, so nothing NovaMed may still redeliver leaves D1.
       */
      ARCHIVE_AFTER_DAYS: withDefault("90", wholeDays()),
      /**
       * GB of D1 above which the daily job also archives the oldest finished history younger than
       * ARCHIVE_AFTER_DAYS (down to {@link BUDGET_FLOOR_DAYS}), oldest first, until D1 is under it:
       * D1 stays bounded at any volume. A fraction is allowed (tests set a few KB).
       */
      D1_SIZE_BUDGET_GB: withDefault(
        "2",
        z
          .string()
          .transform(Number)
          .refine((value) => Number.isFinite(value) && value > 0, { error: "is not a positive number of GB" }),
      ),
      /**
       * Days an archived event's index entry stays in D1 (`archived_event_buckets`) before the daily
       * job shelves it in R2 (`index/`, src/archive/shelf.ts): the index in D1 holds this many days
       * of archived events, whatever the volume. At least 1.
       */
      ARCHIVE_INDEX_DAYS: withDefault("365", wholeDays()),
    })
    .transform((vars) => ({
      archiveAfterDays: vars.ARCHIVE_AFTER_DAYS,
      sizeBudgetBytes: Math.round(vars.D1_SIZE_BUDGET_GB * 1_000_000_000),
      indexDays: vars.ARCHIVE_INDEX_DAYS,
    }));

/**
 * The youngest history the size budget may archive: a day old, the least ARCHIVE_AFTER_DAYS allows,
 * far past NovaMed's retry horizon (about 1 h 21 min), so nothing it may still redeliver leaves D1.
 */
export const BUDGET_FLOOR_DAYS = 1;

export type ArchiveSettings = z.output<ReturnType<typeof archiveSchema>>;

/** The archive job's settings; throws a ConfigError naming a malformed variable. */
export const readArchiveSettings = settingsReader(archiveSchema);

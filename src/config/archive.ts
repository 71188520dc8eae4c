import { z } from "zod";
import { settingsReader, withDefault } from "./read";

const archiveSchema = () =>
  z
    .object({
      /**
       * Days finished history stays in D1 before the daily job moves it to the R2 bucket `ARCHIVE`
       * (src/archive/); at least 1, so nothing NovaMed may still redeliver leaves D1.
       */
      ARCHIVE_AFTER_DAYS: withDefault(
        "90",
        z
          .string()
          .transform(Number)
          .refine((value) => Number.isInteger(value) && value >= 1, {
            error: "is not a whole number of days (1 or more)",
          }),
      ),
    })
    .transform((vars) => ({ archiveAfterDays: vars.ARCHIVE_AFTER_DAYS }));

export type ArchiveSettings = z.output<ReturnType<typeof archiveSchema>>;

/** The archive job's settings; throws a ConfigError naming a malformed variable. */
export const readArchiveSettings = settingsReader(archiveSchema);

import { z } from "zod";
import { optionalText, settingsReader } from "./read";

/**
 * `ACCESS_ADMIN_EMAILS` (a var): comma-separated Access identities that are admins of every clinic
 * before any staff row exists (the bootstrap). Lower-cased; unset means none.
 */
export const readAccessAdminEmails = settingsReader(() =>
  z.object({ ACCESS_ADMIN_EMAILS: optionalText() }).transform(
    (vars) =>
      new Set(
        (vars.ACCESS_ADMIN_EMAILS ?? "")
          .split(",")
          .map((email) => email.trim().toLowerCase())
          .filter((email) => email.length > 0),
      ),
  ),
);

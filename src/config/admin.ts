import { z } from "zod";
import { requiredText, settingsReader } from "./read";

const adminSchema = z.object({ ADMIN_TOKEN: requiredText }).transform((vars) => vars.ADMIN_TOKEN);

/** The admin API's bearer token; throws a ConfigError when it is missing or blank. */
export const readAdminToken = settingsReader(adminSchema);

import { z } from "zod";

/**
 * The clinic filter of an admin list (`?clinic_id=`), as the console's lists have one: the list is
 * narrowed to that clinic within the identity's scope (`narrowedTo`); a clinic outside it lists
 * nothing, as an unknown one would.
 */
export const clinicParam = {
  clinic_id: z.guid({ error: "must be a clinic UUID" }).optional(),
};

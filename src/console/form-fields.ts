import { z } from "zod";

/**
 * A text field of a console filter form, as a GET form sends it: trimmed, at most `max` characters,
 * and an empty field means "any" (undefined).
 */
export const optionalFormText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .transform((value) => value || undefined)
    .optional();

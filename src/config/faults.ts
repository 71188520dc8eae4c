import { z } from "zod";
import { settingsReader, withDefault } from "./read";

const faultsSchema = z
  .object({
    FAULT_INJECTION_RATE: withDefault(
      "0",
      z
        .string()
        .transform(Number)
        .refine((rate) => Number.isFinite(rate) && rate >= 0 && rate <= 1, {
          error: "is not a number between 0 and 1",
        }),
    ),
  })
  .transform((vars) => vars.FAULT_INJECTION_RATE);

/**
 * `FAULT_INJECTION_RATE`, a probability in [0, 1] used only by the reliability benchmark; 0 (off) when
 * unset. Never set it in production.
 */
export const readFaultRate = settingsReader(faultsSchema);

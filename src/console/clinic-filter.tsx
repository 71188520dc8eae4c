import type { Context } from "hono";
import { readClinicIds } from "../config/clinics";
import { coversClinic } from "../db/scope";
import { scopeOf } from "./scope";
import type { ConsoleApp } from "./types";

/** The clinics a list's clinic filter offers: the configured ones the identity's scope covers. */
export function clinicChoices(c: Context<ConsoleApp>): string[] {
  const scope = scopeOf(c);
  return readClinicIds(c.env).filter((clinicId) => coversClinic(scope, clinicId));
}

/** The clinic filter of a list's GET form (`clinic`; empty: every clinic of the identity). */
export function ClinicFilter({ clinics, chosen }: { clinics: readonly string[]; chosen: string | undefined }) {
  return (
    <label>
      Clinic
      <select name="clinic">
        <option value="">every clinic</option>
        {clinics.map((clinicId) => (
          <option value={clinicId} selected={chosen?.toLowerCase() === clinicId}>
            {`clinic ${clinicId}`}
          </option>
        ))}
      </select>
    </label>
  );
}

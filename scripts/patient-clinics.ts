// Migration 0047 keys the patient directory by (clinic, patient id). A D1 migration is SQL and cannot
// read NOVAMED_CLINIC_IDS, so the rows it finds keep clinic_id '' ("not yet assigned"). This step runs
// before the migrations of `npm run deploy` and `npm run dev` and finishes that migration here:
// - no unassigned patient: nothing to do;
// - exactly one clinic configured (or `--assign-patients <uuid>` given): the migrations are applied,
//   then the unassigned rows become that clinic's (a row the clinic already has for the same
//   patient id wins: it was written later);
// - several clinics configured: it refuses before any migration runs, saying what to run, because
//   nobody but the operator knows whose those patients are (with several clinics the Worker would
//   use them for no clinic);
// - clinics unknown (NOVAMED_CLINIC_IDS is a secret, which wrangler never returns): it refuses only
//   while 0047 is still to be applied, asking for the clinic; after 0047 it says how to assign them.
import { z } from "zod";
import type { WranglerRunner } from "./deploy-check.ts";

export { spawnWrangler, type WranglerRunner } from "./deploy-check.ts";

/** Where the D1 database is: the deployed one (`--remote`, optionally of an environment) or `--local`. */
export interface D1Target {
  location: "--remote" | "--local";
  environmentArgs: readonly string[];
}

/** What the database holds: whether 0047 has run, and how many patients have no clinic. */
export interface PatientState {
  /** True when `patients` has no `clinic_id` column yet (0047 to be applied). */
  beforeClinicMigration: boolean;
  /** Patients without a clinic: every row before 0047, the `clinic_id = ''` rows after it. */
  unassigned: number;
}

export type PatientPlan =
  | { kind: "nothing" }
  | { kind: "assign"; clinicId: string; unassigned: number }
  | { kind: "notice"; message: string }
  | { kind: "refuse"; message: string };

/** A clinic id as the Worker reads NOVAMED_CLINIC_IDS (src/config/clinics.ts: zod's guid, lower-cased here). */
const isClinicId = (value: string) => z.guid().safeParse(value).success;

/** The clinic ids of a NOVAMED_CLINIC_IDS value (comma-separated, lower-cased, distinct), or null if unset. */
export function parseClinicIds(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === "") return null;
  return [...new Set(value.split(",").map((id) => id.trim().toLowerCase()))].filter((id) => id !== "");
}

/**
 * Takes `--assign-patients <uuid>` (or `--assign-patients=<uuid>`) out of the arguments: the clinic the
 * operator says the unassigned patients belong to, and the other arguments. Throws on a missing value.
 */
export function takeAssignPatients(args: readonly string[]): { clinicId: string | null; rest: string[] } {
  const rest: string[] = [];
  let clinicId: string | null = null;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? "";
    if (arg === "--assign-patients" || arg.startsWith("--assign-patients=")) {
      const value = arg === "--assign-patients" ? args[++index] : arg.slice("--assign-patients=".length);
      if (!value || value.startsWith("--")) throw new Error("--assign-patients needs a clinic id (a UUID)");
      clinicId = value.trim().toLowerCase();
    } else {
      rest.push(arg);
    }
  }
  return { clinicId, rest };
}

/**
 * What to do about unassigned patients. `command` is how the operator re-runs this step with a clinic
 * (`npm run deploy -- --env production`), so the refusal names the exact command to run.
 */
export function planPatientClinics(input: {
  state: PatientState;
  clinicIds: readonly string[] | null;
  assignTo: string | null;
  command: string;
}): PatientPlan {
  const { state, clinicIds, assignTo, command } = input;
  if (assignTo !== null) {
    if (!isClinicId(assignTo)) {
      return { kind: "refuse", message: `--assign-patients ${assignTo}: a clinic id is a UUID` };
    }
    if (clinicIds !== null && !clinicIds.includes(assignTo)) {
      return {
        kind: "refuse",
        message: `--assign-patients ${assignTo}: that clinic is not in NOVAMED_CLINIC_IDS (${clinicIds.join(", ")})`,
      };
    }
  }
  if (state.unassigned === 0) return { kind: "nothing" };
  const which = `${state.unassigned} patient${state.unassigned === 1 ? "" : "s"}`;
  const origin = "written before the directory was kept per clinic (migration 0047)";
  const rerun = `${command} --assign-patients <clinic uuid>`;
  if (assignTo !== null) return { kind: "assign", clinicId: assignTo, unassigned: state.unassigned };
  if (clinicIds !== null && clinicIds.length === 1 && clinicIds[0] !== undefined) {
    return { kind: "assign", clinicId: clinicIds[0], unassigned: state.unassigned };
  }
  if (clinicIds !== null) {
    return {
      kind: "refuse",
      message:
        `Refusing to migrate: ${which} ${origin} have no clinic, and NOVAMED_CLINIC_IDS lists ${clinicIds.length} clinics, ` +
        `so they would be used by none of them. Say which clinic they belong to and run again:\n  ${rerun}\n` +
        '(docs/operations.md, "Patients and clinics"). Nothing was changed.',
    };
  }
  if (state.beforeClinicMigration) {
    return {
      kind: "refuse",
      message:
        `Refusing to migrate: ${which} ${origin} need a clinic, and NOVAMED_CLINIC_IDS is a secret this script cannot read. ` +
        `Export it (NOVAMED_CLINIC_IDS=<the value you set> ${command}), or say which clinic they belong to:\n  ${rerun}\n` +
        '(docs/operations.md, "Patients and clinics"). Nothing was changed.',
    };
  }
  return {
    kind: "notice",
    message:
      `Note: ${which} have no clinic yet; they are the clinic's while exactly one is configured. ` +
      `Before adding a clinic to NOVAMED_CLINIC_IDS, run: ${rerun}`,
  };
}

/** `wrangler d1 execute DB <target> --json --command <sql>`: the arguments. */
function executeArgs(target: D1Target, sql: string): string[] {
  return ["d1", "execute", "DB", target.location, ...target.environmentArgs, "--json", "--command", sql];
}

/** The rows of each statement of a `--json` answer. */
function resultsOf(output: string): Record<string, unknown>[][] {
  const parsed = JSON.parse(output.slice(output.indexOf("["))) as { results?: Record<string, unknown>[] }[];
  return parsed.map((statement) => statement.results ?? []);
}

function runOrThrow(run: WranglerRunner, args: string[]): string {
  const result = run(args);
  if (result.status !== 0) {
    throw new Error(`wrangler ${args.slice(0, 5).join(" ")} failed:\n${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

/** Reads the patient state of the database (two small statements; no patient data leaves D1). */
export function readPatientState(run: WranglerRunner, target: D1Target): PatientState {
  const [tableRows = []] = resultsOf(
    runOrThrow(run, executeArgs(target, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'patients'")),
  );
  const createSql = tableRows[0]?.sql;
  if (typeof createSql !== "string") return { beforeClinicMigration: true, unassigned: 0 };
  const beforeClinicMigration = !/\bclinic_id\b/.test(createSql);
  const where = beforeClinicMigration ? "" : " WHERE clinic_id = ''";
  const [countRows = []] = resultsOf(
    runOrThrow(run, executeArgs(target, `SELECT COUNT(*) AS unassigned FROM patients${where}`)),
  );
  return { beforeClinicMigration, unassigned: Number(countRows[0]?.unassigned ?? 0) };
}

/**
 * The statements that give the unassigned patients to a clinic: a row the clinic already has for the
 * same patient id was written after 0047 and wins, so the unassigned copy goes first.
 */
export function assignSql(clinicId: string): string {
  if (!isClinicId(clinicId)) throw new Error(`not a clinic id: ${clinicId}`);
  return (
    `DELETE FROM patients WHERE clinic_id = '' AND patient_id IN (SELECT patient_id FROM patients WHERE clinic_id = '${clinicId}'); ` +
    `UPDATE patients SET clinic_id = '${clinicId}' WHERE clinic_id = ''`
  );
}

/** Gives the unassigned patients to `clinicId` (after the migrations). */
export function assignPatients(run: WranglerRunner, target: D1Target, clinicId: string): void {
  runOrThrow(run, executeArgs(target, assignSql(clinicId)));
}

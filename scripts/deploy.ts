// `npm run deploy [-- --env staging|production] [--assign-patients <clinic uuid>]`: the deploy check,
// the patients' clinic (scripts/patient-clinics.ts: refuses with several clinics and patients written
// before 0047), the remote D1 migrations, then `wrangler deploy`, all for the same environment
// (wrangler environments share nothing, so a step run without the `--env` would reach another
// Worker's database). Stops at the first failure.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { targetEnvironment } from "./deploy-check.ts";
import {
  assignPatients,
  type D1Target,
  parseClinicIds,
  planPatientClinics,
  readPatientState,
  spawnWrangler,
  takeAssignPatients,
  type WranglerRunner,
} from "./patient-clinics.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const USAGE = "usage: npm run deploy [-- --env staging|production] [--assign-patients <clinic uuid>]";

/** The environment's arguments (`--env <name>` or none) and the clinic given for unassigned patients. */
function parseArgs(args: readonly string[]): { environmentArgs: string[]; assignTo: string | null } {
  const { clinicId, rest } = takeAssignPatients(args);
  const environment = targetEnvironment(rest);
  const expected = environment === null ? 0 : rest.some((arg) => arg.startsWith("--env=")) ? 1 : 2;
  if (rest.length !== expected || environment === "") throw new Error(USAGE);
  return { environmentArgs: environment ? ["--env", environment] : [], assignTo: clinicId };
}

/** The commands of one deploy, in order; throws on arguments other than the environment and the clinic. */
export function deploySteps(args: readonly string[]): string[][] {
  const { environmentArgs } = parseArgs(args);
  return [
    [process.execPath, path.join(here, "deploy-check.ts"), ...environmentArgs],
    ["wrangler", "d1", "migrations", "apply", "DB", "--remote", ...environmentArgs],
    ["wrangler", "deploy", ...environmentArgs],
  ];
}

/** Runs a deploy: 0 when every step passed, else the failing step's status (nothing after it runs). */
export function deploy(
  args: readonly string[],
  options: { clinicIds?: string; run?: WranglerRunner; log?: (line: string) => void } = {},
): number {
  const { environmentArgs, assignTo } = parseArgs(args);
  const log = options.log ?? ((line: string) => console.error(line));
  const [check, migrate, publish] = deploySteps(args) as [string[], string[], string[]];
  const spawn = ([command, ...rest]: string[]) => spawnSync(command ?? "", rest, { stdio: "inherit" }).status ?? 1;
  const checked = spawn(check);
  if (checked !== 0) return checked;
  const run = options.run ?? spawnWrangler();
  const target: D1Target = { location: "--remote", environmentArgs };
  const plan = planPatientClinics({
    state: readPatientState(run, target),
    clinicIds: parseClinicIds(options.clinicIds),
    assignTo,
    command: `npm run deploy --${environmentArgs.length > 0 ? ` ${environmentArgs.join(" ")}` : ""}`,
  });
  if (plan.kind === "refuse") {
    log(plan.message);
    return 1;
  }
  if (plan.kind === "notice") log(plan.message);
  const migrated = spawn(migrate);
  if (migrated !== 0) return migrated;
  if (plan.kind === "assign") {
    assignPatients(run, target, plan.clinicId);
    log(`Assigned ${plan.unassigned} patient(s) without a clinic to clinic ${plan.clinicId}.`);
  }
  return spawn(publish);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = deploy(process.argv.slice(2), { clinicIds: process.env.NOVAMED_CLINIC_IDS });
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
  }
}

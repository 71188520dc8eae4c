// Issue 22.2: patients written before migration 0047 migrate to the single configured clinic; with
// several configured, the migration refuses with a message saying what to run. The step lives in the
// deploy and dev scripts (a SQL migration cannot read NOVAMED_CLINIC_IDS): its plan, its wiring in
// `npm run deploy` (a stub wrangler on PATH), and the whole path against a real local D1.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deploySteps } from "../../scripts/deploy.ts";
// @ts-expect-error -- a plain .mjs script without type declarations
import { devVar, planLocalPatients } from "../../scripts/dev.mjs";
import {
  assignPatients,
  parseClinicIds,
  planPatientClinics,
  spawnWrangler,
  takeAssignPatients,
} from "../../scripts/patient-clinics.ts";

const root = path.resolve(import.meta.dirname, "../..");
const CLINIC_A = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
const CLINIC_B = "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const DEPLOY = "npm run deploy -- --env production";

describe("the plan for patients without a clinic", () => {
  const before = { beforeClinicMigration: true, unassigned: 3 };
  const after = { beforeClinicMigration: false, unassigned: 3 };

  it("does nothing when every patient has a clinic (or there are none)", () => {
    for (const clinicIds of [null, [CLINIC_A], [CLINIC_A, CLINIC_B]]) {
      const plan = planPatientClinics({
        state: { beforeClinicMigration: true, unassigned: 0 },
        clinicIds,
        assignTo: null,
        command: DEPLOY,
      });
      expect(plan).toEqual({ kind: "nothing" });
    }
  });

  it("gives them to the only configured clinic", () => {
    expect(planPatientClinics({ state: before, clinicIds: [CLINIC_A], assignTo: null, command: DEPLOY })).toEqual({
      kind: "assign",
      clinicId: CLINIC_A,
      unassigned: 3,
    });
  });

  it("refuses with several clinics, naming the command to run and changing nothing", () => {
    for (const state of [before, after]) {
      const plan = planPatientClinics({ state, clinicIds: [CLINIC_A, CLINIC_B], assignTo: null, command: DEPLOY });
      expect(plan.kind).toBe("refuse");
      const message = plan.kind === "refuse" ? plan.message : "";
      expect(message).toContain("3 patients");
      expect(message).toContain("lists 2 clinics");
      expect(message).toContain(`${DEPLOY} --assign-patients <clinic uuid>`);
      expect(message).toContain("Nothing was changed");
    }
  });

  it("with several clinics, takes the clinic the operator names (one of them only)", () => {
    const both = [CLINIC_A, CLINIC_B];
    expect(planPatientClinics({ state: before, clinicIds: both, assignTo: CLINIC_B, command: DEPLOY })).toEqual({
      kind: "assign",
      clinicId: CLINIC_B,
      unassigned: 3,
    });
    const other = "8b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";
    const outside = planPatientClinics({ state: before, clinicIds: both, assignTo: other, command: DEPLOY });
    expect(outside).toMatchObject({ kind: "refuse", message: expect.stringContaining("not in NOVAMED_CLINIC_IDS") });
    const notUuid = planPatientClinics({ state: before, clinicIds: both, assignTo: "clinic-a", command: DEPLOY });
    expect(notUuid).toMatchObject({ kind: "refuse", message: expect.stringContaining("is a UUID") });
  });

  it("without the clinic list (a secret), refuses before 0047 and only reminds after it", () => {
    const refused = planPatientClinics({ state: before, clinicIds: null, assignTo: null, command: DEPLOY });
    expect(refused).toMatchObject({
      kind: "refuse",
      message: expect.stringContaining(`NOVAMED_CLINIC_IDS=<the value you set> ${DEPLOY}`),
    });
    const reminded = planPatientClinics({ state: after, clinicIds: null, assignTo: null, command: DEPLOY });
    expect(reminded).toMatchObject({ kind: "notice", message: expect.stringContaining(`${DEPLOY} --assign-patients`) });
    expect(planPatientClinics({ state: before, clinicIds: null, assignTo: CLINIC_A, command: DEPLOY }).kind).toBe(
      "assign",
    );
  });

  it("reads the clinic list and the flag as the Worker and the scripts take them", () => {
    expect(parseClinicIds(` ${CLINIC_A.toUpperCase()} , ${CLINIC_B},${CLINIC_A}`)).toEqual([CLINIC_A, CLINIC_B]);
    expect(parseClinicIds("  ")).toBeNull();
    expect(parseClinicIds(undefined)).toBeNull();
    expect(takeAssignPatients(["--env", "staging", "--assign-patients", CLINIC_A.toUpperCase()])).toEqual({
      clinicId: CLINIC_A,
      rest: ["--env", "staging"],
    });
    expect(takeAssignPatients([`--assign-patients=${CLINIC_B}`, "--port", "9000"])).toEqual({
      clinicId: CLINIC_B,
      rest: ["--port", "9000"],
    });
    expect(() => takeAssignPatients(["--assign-patients"])).toThrow("needs a clinic id");
    expect(() => takeAssignPatients(["--assign-patients", "--env"])).toThrow("needs a clinic id");
    expect(devVar(`A=1\nNOVAMED_CLINIC_IDS="${CLINIC_A},${CLINIC_B}"\n`, "NOVAMED_CLINIC_IDS")).toBe(
      `${CLINIC_A},${CLINIC_B}`,
    );
    expect(deploySteps(["--env", "staging", "--assign-patients", CLINIC_A]).at(-1)).toEqual([
      "wrangler",
      "deploy",
      "--env",
      "staging",
    ]);
  });
});

describe("npm run deploy with patients written before 0047 (a stub wrangler on PATH)", () => {
  let bin: string;
  beforeEach(() => {
    bin = mkdtempSync(path.join(tmpdir(), "fake-wrangler-"));
  });
  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  /** Runs `npm run deploy`'s script (the default environment: staging's and production's ids are placeholders) against a wrangler whose database has 3 patients and no clinic column. */
  function deployWith(args: string[], clinicIds: string) {
    const log = path.join(bin, "calls.log");
    const secrets = ["NOVAMED_WEBHOOK_SECRET", "NOVAMED_CLINIC_IDS", "ADMIN_TOKEN", "SMS_PROVIDER", "EMAIL_PROVIDER"];
    const table = JSON.stringify([{ results: [{ sql: "CREATE TABLE patients (patient_id TEXT PRIMARY KEY)" }] }]);
    writeFileSync(
      path.join(bin, "wrangler"),
      [
        "#!/bin/sh",
        `echo "$@" >> "${log}"`,
        'case "$*" in',
        `  "secret list"*) echo '${JSON.stringify(secrets.map((name) => ({ name })))}' ;;`,
        `  *sqlite_master*) echo '${table}' ;;`,
        `  *"COUNT(*)"*) echo '[{"results":[{"unassigned":3}]}]' ;;`,
        "  *) echo '[]' ;;",
        "esac",
        "",
      ].join("\n"),
    );
    chmodSync(path.join(bin, "wrangler"), 0o755);
    const result = spawnSync(process.execPath, [path.join(root, "scripts/deploy.ts"), ...args], {
      cwd: root,
      encoding: "utf8",
      env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`, NOVAMED_CLINIC_IDS: clinicIds },
    });
    const calls = readFileSync(log, "utf8").trim().split("\n");
    return { ...result, calls };
  }

  it("refuses before any migration with several clinics, and says what to run", () => {
    const result = deployWith([], `${CLINIC_A},${CLINIC_B}`);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("npm run deploy -- --assign-patients <clinic uuid>");
    expect(result.calls.some((call) => call.startsWith("d1 migrations apply"))).toBe(false);
    expect(result.calls.some((call) => call.startsWith("deploy"))).toBe(false);
    expect(result.calls.some((call) => call.includes("UPDATE"))).toBe(false);
  });

  it("with the clinic named, migrates, then gives the patients to it, then deploys", () => {
    const result = deployWith(["--assign-patients", CLINIC_B], `${CLINIC_A},${CLINIC_B}`);
    expect(result.stderr).toContain(`Assigned 3 patient(s) without a clinic to clinic ${CLINIC_B}`);
    expect(result.status).toBe(0);
    const steps = result.calls.map((call) =>
      call.startsWith("d1 execute") ? (call.includes("UPDATE") ? "assign" : "read") : call.split(" --")[0],
    );
    expect(steps).toEqual(["secret list", "read", "read", "d1 migrations apply DB", "assign", "deploy"]);
    expect(result.calls.filter((call) => call.startsWith("d1")).every((call) => call.includes("--remote"))).toBe(true);
    expect(result.calls.find((call) => call.includes("UPDATE"))).toContain(`SET clinic_id = '${CLINIC_B}'`);
  });
});

describe("npm run dev's patient step against a real local D1", () => {
  let project: string;
  const wrangler = () => spawnWrangler(project, { CI: "true" });
  const execute = (sql: string) => {
    const result = wrangler()(["d1", "execute", "DB", "--local", "--json", "--command", sql]);
    expect(result.status, result.stderr).toBe(0);
    return JSON.parse(result.stdout.slice(result.stdout.indexOf("["))) as { results: Record<string, unknown>[] }[];
  };
  const migrate = () => expect(wrangler()(["d1", "migrations", "apply", "DB", "--local"]).status).toBe(0);

  beforeEach(() => {
    project = mkdtempSync(path.join(tmpdir(), "patients-0047-"));
    mkdirSync(path.join(project, "migrations"));
    writeFileSync(path.join(project, "worker.js"), "export default {};\n");
    writeFileSync(
      path.join(project, "wrangler.toml"),
      'name = "patients-0047"\nmain = "worker.js"\ncompatibility_date = "2026-11-01"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "patients-0047"\ndatabase_id = "00000000-0000-4000-8000-000000000000"\nmigrations_dir = "migrations"\n',
    );
  });
  afterEach(() => rmSync(project, { recursive: true, force: true }));

  /** Copies the project's migrations up to and including `last` (by number) into the temporary project. */
  function migrationsUpTo(last: number) {
    for (const name of readdirSync(path.join(root, "migrations"))) {
      if (Number(name.slice(0, 4)) <= last) {
        copyFileSync(path.join(root, "migrations", name), path.join(project, "migrations", name));
      }
    }
  }

  it("refuses with two clinics in .dev.vars, then gives the patients to the clinic named (its own later row wins)", () => {
    migrationsUpTo(46);
    migrate();
    execute(
      "INSERT INTO patients (patient_id, phone, sms_opt_in, email_opt_in, created_at, updated_at) VALUES ('pat_old1', '+15550000001', 1, 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), ('pat_old2', NULL, 0, 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    );
    migrationsUpTo(9999);
    writeFileSync(path.join(project, ".dev.vars"), `NOVAMED_CLINIC_IDS=${CLINIC_A},${CLINIC_B}\n`);

    const refused = planLocalPatients(project, null, wrangler());
    expect(refused.kind).toBe("refuse");
    expect(refused.message).toContain("2 patients");
    expect(refused.message).toContain("npm run dev -- --assign-patients <clinic uuid>");

    const plan = planLocalPatients(project, CLINIC_A, wrangler());
    expect(plan).toEqual({ kind: "assign", clinicId: CLINIC_A, unassigned: 2 });
    migrate();
    // Written after 0047 for clinic A: newer than the unassigned copy, so it stays.
    execute(
      `INSERT INTO patients (clinic_id, patient_id, phone, sms_opt_in, email_opt_in, created_at, updated_at) VALUES ('${CLINIC_A}', 'pat_old2', '+15550000002', 1, 1, '2026-02-01T00:00:00Z', '2026-02-01T00:00:00Z')`,
    );
    assignPatients(wrangler(), { location: "--local", environmentArgs: [] }, CLINIC_A);

    const [rows] = execute("SELECT clinic_id, patient_id, phone FROM patients ORDER BY patient_id");
    expect(rows?.results).toEqual([
      { clinic_id: CLINIC_A, patient_id: "pat_old1", phone: "+15550000001" },
      { clinic_id: CLINIC_A, patient_id: "pat_old2", phone: "+15550000002" },
    ]);
    expect(planLocalPatients(project, null, wrangler())).toEqual({ kind: "nothing" });
  }, 240_000);
});

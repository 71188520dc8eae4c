import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ALL_CLINICS, type StaffScope } from "../../src/db/scope";
import { type SearchHit, selectIdsByPrefix } from "../../src/db/search";
import { twoClinicEnv } from "../helpers/clinics";
import { queryPlans } from "../helpers/d1";
import { CLINIC_ID, makeEvent, OTHER_CLINIC_ID } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/**
 * The id search in any case on partial `lower()` indexes (migration 0182, issue 26.2): an id in lower
 * case is found on its own column's index and writes no `lower()` entry; an id with an upper-case
 * letter is found on `<table>_id_mixed_case`. Each test makes its own ids from a fresh stem, so the
 * prefix it searches matches only its rows.
 */

type AnyCaseKind = Exclude<SearchHit["kind"], "notification">;

/** A fresh lower-case stem of letters and digits, e.g. `k3x9q2`. */
function stem(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 10);
}

/** The ids a test stores for one kind: lower, mixed and upper case, each a distinct id after `prefix`. */
function idsOf(prefix: string): string[] {
  return [`${prefix}_b1`, `${prefix.toUpperCase()}_A2`, `${prefix[0]?.toUpperCase()}${prefix.slice(1)}_c3`];
}

const KINDS: { kind: AnyCaseKind; table: string; column: string; ownIndex: string }[] = [
  { kind: "event", table: "events", column: "event_id", ownIndex: "PRIMARY KEY" },
  { kind: "order", table: "orders", column: "order_id", ownIndex: "PRIMARY KEY" },
  {
    kind: "medication_request",
    table: "medication_requests",
    column: "medication_request_id",
    ownIndex: "PRIMARY KEY",
  },
  { kind: "refill", table: "refills", column: "refill_id", ownIndex: "PRIMARY KEY" },
  { kind: "patient", table: "patients", column: "patient_id", ownIndex: "INDEX patients_patient" },
];

/** Stores one row of `kind` under `id` in `clinic`, as the receiver does (events through the consumer). */
async function store(kind: AnyCaseKind, id: string, clinic = CLINIC_ID): Promise<void> {
  if (kind === "patient") {
    await env.DB.prepare(
      `INSERT INTO patients (clinic_id, patient_id, sms_opt_in, email_opt_in, created_at, updated_at)
       VALUES (?1, ?2, 0, 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`,
    )
      .bind(clinic, id)
      .run();
    return;
  }
  const event =
    kind === "event"
      ? makeEvent("order:processing", { event_id: id, clinic_id: clinic, data: { order_id: `ord_${stem()}` } })
      : kind === "order"
        ? makeEvent("order:processing", { clinic_id: clinic, data: { order_id: id } })
        : kind === "medication_request"
          ? makeEvent("medication_request:created", { clinic_id: clinic, data: { medication_request_id: id } })
          : makeEvent("refill:requested", { clinic_id: clinic, data: { refill_id: id } });
  await runBatch(EVENTS_QUEUE, [eventMessage(event)], twoClinicEnv());
  const { table, column } = KINDS.find((entry) => entry.kind === kind) ?? {};
  const row = await env.DB.prepare(`SELECT clinic_id FROM ${table} WHERE ${column} = ?1`)
    .bind(id)
    .first<{ clinic_id: string }>();
  expect(row?.clinic_id, `${kind} ${id}`).toBe(clinic);
}

async function found(scope: StaffScope, kind: AnyCaseKind, prefix: string, limit = 10): Promise<string[]> {
  const { results } = await selectIdsByPrefix(env.DB, scope, null, kind, prefix, limit).all<SearchHit>();
  return results.map((hit) => hit.id);
}

/** The plan lines of the statement the search binds for `kind`. */
function planOf(kind: AnyCaseKind, prefix: string): Promise<string[]> {
  return queryPlans(env.DB, (db) => selectIdsByPrefix(db, ALL_CLINICS, null, kind, prefix, 10));
}

describe.each(KINDS)("the id search of $kind ids in any case", ({ kind, table, column, ownIndex }) => {
  it("finds lower-, mixed- and upper-case ids by a prefix typed in any case, each once, in lower-cased order", async () => {
    const prefix = `x${stem()}`;
    const ids = idsOf(prefix);
    for (const id of ids) await store(kind, id);
    // An id just outside the prefix (its last character replaced).
    await store(kind, `${prefix.slice(0, -1)}_z9`);
    const inOrder = [...ids].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    expect(inOrder.map((id) => id.toLowerCase())).toEqual([`${prefix}_a2`, `${prefix}_b1`, `${prefix}_c3`]);
    for (const typed of [prefix, prefix.toUpperCase(), `${prefix.slice(0, 3).toUpperCase()}${prefix.slice(3)}`])
      expect(await found(ALL_CLINICS, kind, typed), typed).toEqual(inOrder);
    // The limit applies to the united ranges: the first two in lower-cased order, from both.
    expect(await found(ALL_CLINICS, kind, prefix, 2)).toEqual(inOrder.slice(0, 2));
    expect(await found(ALL_CLINICS, kind, `${prefix}_B`)).toEqual([ids[0]]);
  });

  it("keeps the lower() entry for ids with an upper-case letter only", async () => {
    const prefix = `y${stem()}`;
    const [lower, mixed, upper] = idsOf(prefix);
    for (const id of [lower, mixed, upper]) await store(kind, id as string);
    const { results } = await env.DB.prepare(
      `SELECT ${column} AS id FROM ${table} INDEXED BY ${table}_id_mixed_case
       WHERE lower(${column}) >= ?1 AND lower(${column}) < ?2 AND ${column} <> lower(${column}) ORDER BY lower(${column})`,
    )
      .bind(prefix, `${prefix}~`)
      .all<{ id: string }>();
    expect(results.map((row) => row.id)).toEqual([mixed, upper]);
  });

  it("reads the id's own index for lower-case ids and the partial index for the others: no scan", async () => {
    const plan = await planOf(kind, "EVT_AB");
    expect(plan).toContain(`SEARCH t USING ${ownIndex} (${column}>? AND ${column}<?)`);
    expect(plan.some((line) => line.includes(`${table}_id_mixed_case (<expr>>? AND <expr><?)`))).toBe(true);
    expect(plan.filter((line) => /^SCAN t\b/.test(line))).toEqual([]);
    // Each range reads its index in order and stops at the limit: only the union of the two is sorted.
    expect(plan.filter((line) => line.includes("TEMP B-TREE"))).toEqual(["USE TEMP B-TREE FOR ORDER BY"]);
  });

  it("never finds another clinic's id from either range", async () => {
    const prefix = `w${stem()}`;
    const [lower, mixed] = idsOf(prefix);
    await store(kind, lower as string);
    await store(kind, `${prefix}_d4`, OTHER_CLINIC_ID);
    await store(kind, `${prefix.toUpperCase()}_E5`, OTHER_CLINIC_ID);
    await store(kind, mixed as string);
    const clinicA: StaffScope = { role: "viewer", clinics: [CLINIC_ID] };
    expect(await found(clinicA, kind, prefix)).toEqual([mixed, lower]);
    const clinicB: StaffScope = { role: "viewer", clinics: [OTHER_CLINIC_ID] };
    expect(await found(clinicB, kind, prefix)).toEqual([`${prefix}_d4`, `${prefix.toUpperCase()}_E5`]);
  });
});

describe("D1 rows written for an id's case (migration 0182)", () => {
  it("an event or entity whose id has an upper-case letter writes one row more: its lower() entry", async () => {
    const insert = async (id: string) =>
      (
        await env.DB.prepare(
          `INSERT INTO events (event_id, event_type, clinic_id, status, occurred_at, received_at, payload_hash)
           VALUES (?1, 'order:shipped', ?2, 'processed', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'h')`,
        )
          .bind(id, CLINIC_ID)
          .run()
      ).meta.rows_written;
    const prefix = `v${stem()}`;
    expect(await insert(`${prefix}_Mixed`)).toBe((await insert(`${prefix}_lower`)) + 1);
    const patient = async (id: string) =>
      (
        await env.DB.prepare(
          `INSERT INTO patients (clinic_id, patient_id, sms_opt_in, email_opt_in, created_at, updated_at)
           VALUES (?1, ?2, 0, 0, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`,
        )
          .bind(CLINIC_ID, id)
          .run()
      ).meta.rows_written;
    expect(await patient(`${prefix}_PAT`)).toBe((await patient(`${prefix}_pat`)) + 1);
  });
});

import { andInScope, type StaffScope } from "./scope";

/** Typed SQL for forwarding destinations (migration 0120): a clinic's endpoint and its signing secrets. */

export const DESTINATION_STATES = ["active", "paused", "disabled"] as const;
export type DestinationState = (typeof DESTINATION_STATES)[number];

/** A destination as stored, secrets included: never answered as is (see `destinationView`). */
export interface Destination {
  destination_id: string;
  clinic_id: string;
  url: string;
  /** Change types, or ["*"]. */
  events: string[];
  include_phi: boolean;
  enabled: boolean;
  state: DestinationState;
  failure_streak: number;
  last_success_at: string | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  /** The last change sequence this destination has delivery rows for (its fan-out cursor). */
  fanout_cursor: number;
  /** While paused (circuit open): when the next single probe delivery goes. */
  probe_at: string | null;
  created_at: string;
  updated_at: string;
}

/** What an admin may set on a destination. */
export type DestinationSettings = Pick<Destination, "clinic_id" | "url" | "events" | "include_phi" | "enabled">;

export type DestinationRow = Omit<Destination, "events" | "include_phi" | "enabled"> & {
  events: string;
  include_phi: number;
  enabled: number;
};

export function toDestination(row: DestinationRow): Destination {
  const events: unknown = JSON.parse(row.events);
  return {
    ...row,
    events: Array.isArray(events) ? events.map(String) : [],
    include_phi: row.include_phi === 1,
    enabled: row.enabled === 1,
  };
}

/** The destinations of the scope's clinics, by clinic and id. */
export async function listDestinations(db: D1Database, scope: StaffScope): Promise<Destination[]> {
  const inScope = andInScope(scope, "clinic_id", "?1");
  const { results } = await db
    .prepare(`SELECT * FROM destinations WHERE 1${inScope.sql} ORDER BY clinic_id, destination_id`)
    .bind(...inScope.values)
    .all<DestinationRow>();
  return results.map(toDestination);
}

/** One destination, or null (also for one of a clinic outside the scope). */
export async function getDestination(db: D1Database, scope: StaffScope, id: string): Promise<Destination | null> {
  const inScope = andInScope(scope, "clinic_id", "?2");
  const row = await db
    .prepare(`SELECT * FROM destinations WHERE destination_id = ?1${inScope.sql}`)
    .bind(id, ...inScope.values)
    .first<DestinationRow>();
  return row ? toDestination(row) : null;
}

/**
 * Creates a destination with its first secret; false when the id is already taken (any clinic). It
 * hears of changes from now on: its fan-out cursor starts at the newest change.
 */
export async function insertDestination(
  db: D1Database,
  id: string,
  settings: DestinationSettings,
  secret: string,
  now: string,
): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT INTO destinations (destination_id, clinic_id, url, events, include_phi, enabled, secret, fanout_cursor, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT COALESCE(MAX(sequence), 0) FROM changes), ?8, ?8)
ON CONFLICT (destination_id) DO NOTHING`,
    )
    .bind(
      id,
      settings.clinic_id,
      settings.url,
      JSON.stringify(settings.events),
      settings.include_phi ? 1 : 0,
      settings.enabled ? 1 : 0,
      secret,
      now,
    )
    .run();
  return (result.meta.changes ?? 0) > 0;
}

/**
 * Changes a destination's settings (its clinic and secrets stay). Re-enabling a destination that a
 * 410 disabled makes it active again with a fresh failure streak, and resolves its alert.
 */
export async function updateDestination(
  db: D1Database,
  id: string,
  settings: DestinationSettings,
  now: string,
): Promise<boolean> {
  const reEnable = `?5 = 1 AND enabled = 0`;
  const [result] = await db.batch([
    db
      .prepare(
        `UPDATE destinations SET url = ?2, events = ?3, include_phi = ?4,
  state = CASE WHEN ${reEnable} THEN 'active' ELSE state END,
  failure_streak = CASE WHEN ${reEnable} THEN 0 ELSE failure_streak END,
  probe_at = CASE WHEN ${reEnable} THEN NULL ELSE probe_at END,
  enabled = ?5, updated_at = ?6
WHERE destination_id = ?1`,
      )
      .bind(
        id,
        settings.url,
        JSON.stringify(settings.events),
        settings.include_phi ? 1 : 0,
        settings.enabled ? 1 : 0,
        now,
      ),
    db
      .prepare(
        `UPDATE alerts SET state = 'resolved', resolved_at = ?2
WHERE rule = 'destination_gone' AND target_id = ?1 AND state = 'open' AND ?3 = 1`,
      )
      .bind(id, now, settings.enabled ? 1 : 0),
  ]);
  return (result?.meta.changes ?? 0) > 0;
}

/** Replaces the secret; the old one keeps signing beside it until `previousUntil`. */
export async function rotateDestinationSecret(
  db: D1Database,
  id: string,
  secret: string,
  previousUntil: string,
  now: string,
): Promise<boolean> {
  const result = await db
    .prepare(
      `UPDATE destinations SET previous_secret = secret, previous_secret_expires_at = ?3, secret = ?2, updated_at = ?4
WHERE destination_id = ?1`,
    )
    .bind(id, secret, previousUntil, now)
    .run();
  return (result.meta.changes ?? 0) > 0;
}

/**
 * Deletes a destination with its deliveries and their attempts, in one batch: an id set free may be
 * taken again, by any clinic, and must not inherit a single row of the old one. True when one existed.
 */
export async function deleteDestination(db: D1Database, id: string): Promise<boolean> {
  const [, , destination] = await db.batch([
    db
      .prepare(
        `DELETE FROM clinic_delivery_attempts WHERE delivery_id IN (SELECT delivery_id FROM clinic_deliveries WHERE destination_id = ?1)`,
      )
      .bind(id),
    db.prepare(`DELETE FROM clinic_deliveries WHERE destination_id = ?1`).bind(id),
    db.prepare(`DELETE FROM destinations WHERE destination_id = ?1`).bind(id),
  ]);
  return (destination?.meta.changes ?? 0) > 0;
}

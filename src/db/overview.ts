import { query, readBatch } from "./batch";
import type { EventStatus } from "./events";
import { andEventInScope, andInScope, coversClinic, type StaffScope } from "./scope";

/** Typed SQL for the console overview: recent activity per clinic, per hour and status. */

export interface ClinicActivity {
  clinic_id: string;
  /** When the newest event from this clinic reached the receiver; null when none has. */
  last_received_at: string | null;
}

/** Events received in one UTC hour (`YYYY-MM-DDTHH`) with one status. */
export interface HourlyStatusCount {
  hour: string;
  status: EventStatus;
  count: number;
}

export interface Overview {
  clinics: ClinicActivity[];
  hourly: HourlyStatusCount[];
  /** Creation time of the oldest notification still `pending`; null when none waits. */
  oldest_pending_at: string | null;
  /** Lifecycle-watch alerts still open and not yet acknowledged (`alerts_state_opened`). */
  open_alerts: number;
}

/**
 * The overview's activity figures in one round trip: each clinic's newest event (one index probe per
 * clinic on `events_clinic_received`), events received since `since` counted per hour and status (a
 * range of `events_received`), the oldest pending notification (`notifications_status_created`) and the open alerts.
 */
export async function readOverview(
  db: D1Database,
  scope: StaffScope,
  clinicIds: readonly string[],
  since: string,
): Promise<Overview> {
  const events = andInScope(scope, "clinic_id", "?2");
  const notifications = andEventInScope(scope, "event_id", "?1");
  const openAlerts = andInScope(scope, "clinic_id", "?1");
  const [clinics, hourly, oldest, alerts] = await readBatch(db, [
    query<ClinicActivity>(
      db
        .prepare(
          `SELECT value AS clinic_id, (SELECT MAX(received_at) FROM events WHERE clinic_id = value) AS last_received_at
FROM json_each(?1)`,
        )
        .bind(JSON.stringify(clinicIds.filter((clinicId) => coversClinic(scope, clinicId)))),
    ),
    query<HourlyStatusCount>(
      db
        .prepare(
          `SELECT substr(received_at, 1, 13) AS hour, status, COUNT(*) AS count FROM events
WHERE received_at >= ?1${events.sql} GROUP BY hour, status`,
        )
        .bind(since, ...events.values),
    ),
    query<{ oldest: string | null }>(
      db
        .prepare(`SELECT MIN(created_at) AS oldest FROM notifications WHERE status = 'pending'${notifications.sql}`)
        .bind(...notifications.values),
    ),
    query<{ open: number }>(
      db
        .prepare(
          `SELECT COUNT(*) AS open FROM alerts WHERE state = 'open' AND acknowledged_by IS NULL${openAlerts.sql}`,
        )
        .bind(...openAlerts.values),
    ),
  ]);
  return {
    clinics,
    hourly: hourly.map((row) => ({
      ...row,
      count: Number(row.count),
    })),
    oldest_pending_at: oldest[0]?.oldest || null,
    open_alerts: Number(alerts[0]?.open ?? 0),
  };
}

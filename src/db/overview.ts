import { query, readBatch } from "./batch";
import { type EventStatus, STATUS_INDEXED } from "./events";
import { inStatusIndex } from "./notification-outbox";
import { andEventInScope, andInScope, coversClinic, type StaffScope } from "./scope";

/** Typed SQL for the console overview: recent activity per clinic, per hour and status. */

/** One clinic's card on the overview. */
export interface ClinicActivity {
  clinic_id: string;
  /** The name its profile gives it; null without one (the `CLINIC_NAME` default). */
  name: string | null;
  /** When the newest event from this clinic reached the receiver; null when none has. */
  last_received_at: string | null;
  /** The clinic's events that need someone: `dead`, `failed` or `invalid`. */
  attention_events: number;
  /** The clinic's lifecycle-watch alerts still open. */
  open_alerts: number;
}

/** Event statuses that need someone's attention (the overview's cards link to their lists). */
export const ATTENTION_STATUSES = ["dead", "failed", "invalid"] as const;

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
 * The overview's activity figures in one round trip: each clinic's card (its profile's name, its newest event, one index
 * probe on `events_clinic_received`; its events needing attention, read from `events_status_received`
 * (the few rows of those statuses, partial since migration 0170, `+clinic_id` keeping SQLite off the clinic index, which would read
 * every event of the clinic); its open alerts, from `alerts_state_opened`), events received since `since` counted per hour and status (a
 * range of `events_received`), the oldest pending notification (`notifications_status_created`, its condition spelled out: migration 0176) and the open alerts.
 */
export async function readOverview(
  db: D1Database,
  scope: StaffScope,
  clinicIds: readonly string[],
  since: string,
): Promise<Overview> {
  const events = andInScope(scope, "clinic_id", "?2");
  const notifications = andEventInScope(scope, "notifications.event_id", "?1");
  const openAlerts = andInScope(scope, "clinic_id", "?1");
  const [clinics, hourly, oldest, alerts] = await readBatch(db, [
    query<ClinicActivity>(
      db
        .prepare(
          `SELECT value AS clinic_id, (SELECT NULLIF(name, '') FROM clinic_profiles WHERE clinic_id = clinics.value) AS name,
  (SELECT MAX(received_at) FROM events WHERE clinic_id = clinics.value) AS last_received_at,
  (SELECT COUNT(*) FROM events
    WHERE status IN (SELECT value FROM json_each(?2)) AND ${STATUS_INDEXED} AND +clinic_id = clinics.value)
    AS attention_events,
  (SELECT COUNT(*) FROM alerts WHERE state = 'open' AND +clinic_id = clinics.value) AS open_alerts
FROM json_each(?1) AS clinics`,
        )
        .bind(
          JSON.stringify(clinicIds.filter((clinicId) => coversClinic(scope, clinicId))),
          JSON.stringify(ATTENTION_STATUSES),
        ),
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
        .prepare(
          `SELECT MIN(created_at) AS oldest FROM notifications WHERE status = 'pending' AND ${inStatusIndex()}${notifications.sql}`,
        )
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
    clinics: clinics.map((clinic) => ({
      ...clinic,
      attention_events: Number(clinic.attention_events),
      open_alerts: Number(clinic.open_alerts),
    })),
    hourly: hourly.map((row) => ({
      ...row,
      count: Number(row.count),
    })),
    oldest_pending_at: oldest[0]?.oldest || null,
    open_alerts: Number(alerts[0]?.open ?? 0),
  };
}

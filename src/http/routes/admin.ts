import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { z } from "zod";
import { findArchivedEntity, findArchivedEvent } from "../../archive/lookup";
import { getEntity } from "../../db/entities";
import { searchEventRows } from "../../db/event-search";
import { EVENT_STATUSES, type EventRow, eventStats, getEventRow } from "../../db/events";
import type { NotificationRow } from "../../db/notification-outbox";
import { notificationStats, notificationsForEvent } from "../../db/notification-views";
import { narrowedTo } from "../../db/scope";
import type { EntityKind } from "../../event-types";
import { reasonFields } from "../../notify/reasons";
import { replayEvent } from "../../replay/replay";
import { audited, setAuditClinic } from "../audit";
import { clinicParam } from "../clinic-query";
import { encodePosition, readPosition, requireCursor } from "../cursor";
import { ApiError, rejectInvalid } from "../errors";
import { pageParams } from "../list-query";
import { adminAuth } from "../middleware/admin-auth";
import { requestScope, staffScope } from "../middleware/staff-scope";
import { replayRefusalError } from "../replay-refusal";
import type { App } from "../types";
import { adminAlerts, adminInboundReplies } from "./admin-alerts";
import { adminAudit } from "./admin-audit";
import { adminChanges } from "./admin-changes";
import { adminClinics } from "./admin-clinics";
import { adminDeliveries, adminDestinations } from "./admin-destinations";
import { adminHealth } from "./admin-health";
import { adminNotifications } from "./admin-notifications";
import { adminRejections } from "./admin-rejections";
import { adminReplay } from "./admin-replay";
import { adminSearch } from "./admin-search";
import { adminStaff } from "./admin-staff";
import { clinicPatients, patients } from "./patients";

/** The clinic staff's API: events (list, detail, replay), entity state, patients. Bearer `ADMIN_TOKEN`. */
export const admin = new Hono<App>();
admin.use(adminAuth());
admin.use(staffScope());
admin.route("/patients", patients);
admin.route("/clinics/:clinic_id/patients", clinicPatients);
admin.route("/clinics", adminClinics);
admin.route("/staff", adminStaff);
admin.route("/destinations", adminDestinations);
admin.route("/deliveries", adminDeliveries);
admin.route("/changes", adminChanges);
admin.route("/alerts", adminAlerts);
admin.route("/inbound-replies", adminInboundReplies);
admin.route("/", adminReplay);
admin.route("/notifications", adminNotifications);
admin.route("/health", adminHealth);
admin.route("/audit", adminAudit);
admin.route("/rejections", adminRejections);
admin.route("/search", adminSearch);

const invalidQuery = rejectInvalid("invalid_query", "The query parameters are invalid.");

const listQuery = z.object({
  status: z
    .enum(EVENT_STATUSES as [string, ...string[]], { error: `must be one of ${EVENT_STATUSES.join(", ")}` })
    .optional(),
  type: z.string().max(100, { error: "is too long" }).optional(),
  ...pageParams,
  ...clinicParam,
});

const afterCursor = (cursor: string) => requireCursor(readPosition(cursor));

function eventSummary(row: EventRow) {
  return {
    event_id: row.event_id,
    event_type: row.event_type,
    clinic_id: row.clinic_id,
    status: row.status,
    attempts: row.attempts,
    occurred_at: row.occurred_at,
    received_at: row.received_at,
    processed_at: row.processed_at,
    last_error: row.last_error,
  };
}

admin.get("/events", zValidator("query", listQuery, invalidQuery), async (c) => {
  const query = c.req.valid("query");
  const { rows, next } = await searchEventRows(c.env.DB, narrowedTo(requestScope(c), query.clinic_id), {
    status: query.status as EventRow["status"] | undefined,
    type: query.type,
    limit: query.limit,
    after: query.cursor ? afterCursor(query.cursor) : undefined,
  });
  return c.json({ events: rows.map(eventSummary), next_cursor: next && encodePosition(next) });
});

admin.get("/stats", async (c) =>
  c.json({
    events: await eventStats(c.env.DB, requestScope(c)),
    notifications: await notificationStats(c.env.DB, requestScope(c)),
  }),
);

/** An event with its notifications; `archived` when it was read from the R2 archive (src/archive/). */
function eventDetail(row: EventRow, notifications: NotificationRow[], archived: boolean) {
  return {
    ...eventSummary(row),
    issues: row.issues ? (JSON.parse(row.issues) as unknown) : null,
    warnings: row.warnings ? (JSON.parse(row.warnings) as unknown) : [],
    conflicts: row.conflicts,
    applications: row.applications,
    payload_purged_at: row.payload_purged_at,
    archived,
    notifications: notifications.map((notification) => ({
      notification_id: notification.notification_id,
      channel: notification.channel,
      kind: notification.kind,
      status: notification.status,
      provider: notification.provider,
      attempts: notification.attempts,
      sent_at: notification.sent_at,
      scheduled_for: notification.scheduled_for,
      error: notification.error,
      ...reasonFields(notification),
    })),
  };
}

admin.get("/events/:event_id", audited("event.read", "event", "event_id"), async (c) => {
  const eventId = c.req.param("event_id");
  const scope = requestScope(c);
  const row = await getEventRow(c.env.DB, scope, eventId);
  if (row) {
    setAuditClinic(c, row.clinic_id);
    return c.json(eventDetail(row, await notificationsForEvent(c.env.DB, row.event_id), false));
  }
  // Finished history older than ARCHIVE_AFTER_DAYS lives in R2; the index names its object. Another
  // clinic's archived event reads as unknown, like a live one.
  const archived = await findArchivedEvent(c.env, scope, eventId);
  if (!archived) throw new ApiError(404, "not_found", "No event has this id.");
  setAuditClinic(c, archived.event.clinic_id);
  return c.json(eventDetail(archived.event, archived.notifications, true));
});

admin.post(
  "/events/:event_id/replay",
  audited("event.replay", "event", "event_id"),
  zValidator(
    "query",
    z.object({ force: z.enum(["true", "false"], { error: "must be true or false" }).optional() }),
    invalidQuery,
  ),
  async (c) => {
    // Another clinic's event answers 404 (`not_found`), as an unknown one does.
    const result = await replayEvent(c.env, c.req.param("event_id"), {
      force: c.req.valid("query").force === "true",
      requestId: c.get("requestId"),
      scope: requestScope(c),
    });
    if (result.clinicId !== undefined) setAuditClinic(c, result.clinicId);
    if (!("replayed" in result)) throw replayRefusalError(result);
    return c.json(result.replayed, 202);
  },
);

function parseJson(value: unknown): unknown {
  return typeof value === "string" ? (JSON.parse(value) as unknown) : value;
}

const STATE_FIELDS = ["status_rank", "status_event_id", "clinic_id", "fact_times"] as const;

/** An entity row for the API: internal progression columns dropped, JSON columns parsed. */
function entityView(row: Record<string, unknown>) {
  const view: Record<string, unknown> = { ...row };
  for (const field of STATE_FIELDS) delete view[field];
  if ("shipping_address" in view) view.shipping_address = parseJson(view.shipping_address);
  return view;
}

function entityRoute(path: string, kind: EntityKind, param: string) {
  admin.get(path, audited(`${kind}.read`, kind, param), async (c) => {
    const id = c.req.param(param) ?? "";
    const scope = requestScope(c);
    const row = await getEntity(c.env.DB, scope, kind, id);
    if (row) {
      if (typeof row.clinic_id === "string") setAuditClinic(c, row.clinic_id);
      return c.json({ ...entityView(row), archived: false });
    }
    // A final entity quiet for ARCHIVE_AFTER_DAYS lives in R2; the index names its object. Another
    // clinic's archived entity reads as unknown, like a live one.
    const archived = await findArchivedEntity(c.env, scope, kind, id);
    if (!archived) throw new ApiError(404, "not_found", `No ${kind.replace("_", " ")} has this id.`);
    setAuditClinic(c, archived.row.clinic_id);
    return c.json({ ...entityView(archived.row), archived: true });
  });
}

entityRoute("/orders/:order_id", "order", "order_id");
entityRoute("/medication-requests/:medication_request_id", "medication_request", "medication_request_id");
entityRoute("/refills/:refill_id", "refill", "refill_id");

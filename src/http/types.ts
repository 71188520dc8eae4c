import type { StaffScope } from "../tenancy/staff";

/** The one Hono environment type: bindings from `wrangler types`, per-request variables. */
export type App = {
  Bindings: Env;
  Variables: {
    /** Issued by the Worker for every request (never the caller's); the audit and event key. */
    requestId: string;
    /** The caller's own X-Request-Id when it is a UUID, logged as `correlation_id`; never a key. */
    correlationId?: string;
    /** Set once the envelope is valid, so the request log line can name the event. */
    eventType?: string;
    eventId?: string;
    /** The valid envelope's `clinic_id` (lower case), for counting a rejection by clinic. */
    envelopeClinicId?: string;
    /** The clinic a per-clinic webhook key opens (`NOVAMED_WEBHOOK_KEYS`); unset for a shared key. */
    keyClinicId?: string;
    /** Who is calling the admin API (an Access email or `token:<name>`); set by `adminAuth`. */
    actor?: string;
    /** The actor's role and clinics (src/http/middleware/staff-scope.ts). */
    staffScope?: StaffScope;
    /** Counts for this request's audit row (never values); see src/http/audit.ts. */
    auditDetail?: Record<string, number>;
    /** The clinic this request's audit row is about, when it is about one. */
    auditClinic?: string;
  };
};

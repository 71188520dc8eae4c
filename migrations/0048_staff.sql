-- Staff and roles (issue 22.4): who may use the admin API and the console, with which role, for which
-- clinics. ADMIN_TOKEN is admin of every clinic and ACCESS_ADMIN_EMAILS lists Access identities that
-- are admins before any row exists (src/tenancy/staff.ts).
CREATE TABLE staff (
  identity    TEXT PRIMARY KEY,     -- an Access email (lower-case) or service:<client id>
  role        TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  clinics     TEXT NOT NULL,        -- JSON array of lower-case clinic ids, or "all"
  updated_at  TEXT NOT NULL
);

-- Audit rows record the actor's role when it acted.
ALTER TABLE audit ADD COLUMN role TEXT;

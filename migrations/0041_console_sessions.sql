-- Console sessions live here, so signing out revokes a session at once (a copied cookie dies with
-- it) and an idle session ends (src/console/session.ts, src/db/console-sessions.ts). The cookie holds
-- a random session id; only its SHA-256 is stored, so reading this table opens no session.
CREATE TABLE console_sessions (
  session_hash TEXT PRIMARY KEY,   -- hex SHA-256 of the cookie's session id
  actor        TEXT NOT NULL,      -- who signed in, e.g. token:admin
  csrf         TEXT NOT NULL,      -- the session's CSRF token
  created_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,      -- the idle timeout counts from here
  expires_at   TEXT NOT NULL       -- created_at + the absolute lifetime (8 hours)
) WITHOUT ROWID;

-- Sign-in deletes the sessions past their absolute expiry.
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

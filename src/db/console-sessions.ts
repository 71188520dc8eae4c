/**
 * Console sessions (migration 0041): one row per signed-in browser, keyed by the SHA-256 of the
 * cookie's random session id. Reading a session and recording its activity is one statement, so a
 * console request costs one round trip for its identity.
 */

export interface ConsoleSessionRow {
  actor: string;
  csrf: string;
}

export interface NewConsoleSession extends ConsoleSessionRow {
  sessionHash: string;
  createdAt: string;
  expiresAt: string;
}

/** Stores a new session, removing every session past its absolute expiry in the same batch. */
export async function insertConsoleSession(db: D1Database, session: NewConsoleSession): Promise<void> {
  await db.batch([
    db.prepare(`DELETE FROM console_sessions WHERE expires_at <= ?1`).bind(session.createdAt),
    db
      .prepare(
        `INSERT INTO console_sessions (session_hash, actor, csrf, created_at, last_seen_at, expires_at)
VALUES (?1, ?2, ?3, ?4, ?4, ?5)`,
      )
      .bind(session.sessionHash, session.actor, session.csrf, session.createdAt, session.expiresAt),
  ]);
}

/**
 * The session of `sessionHash` when it is alive at `now` (before its absolute expiry, and seen after
 * `idleCutoff`), marking it seen at `now`; null otherwise.
 */
export async function touchConsoleSession(
  db: D1Database,
  sessionHash: string,
  now: string,
  idleCutoff: string,
): Promise<ConsoleSessionRow | null> {
  return db
    .prepare(
      `UPDATE console_sessions SET last_seen_at = ?2
WHERE session_hash = ?1 AND expires_at > ?2 AND last_seen_at > ?3
RETURNING actor, csrf`,
    )
    .bind(sessionHash, now, idleCutoff)
    .first<ConsoleSessionRow>();
}

/** Revokes a session (sign-out). */
export async function deleteConsoleSession(db: D1Database, sessionHash: string): Promise<void> {
  await db.prepare(`DELETE FROM console_sessions WHERE session_hash = ?1`).bind(sessionHash).run();
}

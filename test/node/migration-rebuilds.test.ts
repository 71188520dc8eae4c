// A migration that rebuilds a table copies its rows with `INSERT INTO … SELECT * FROM …`, which goes by
// column position: a column out of place would move every production value into another column, and
// the Workers suite (which migrates empty databases) would not notice. This applies the migrations to
// SQLite (node:sqlite) with a row in each rebuilt table whose every value names its column, then the
// rebuild and everything after it, and checks each value is still in its column.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";

const migrations = path.resolve(import.meta.dirname, "../../migrations");
const files = readdirSync(migrations)
  .filter((name) => name.endsWith(".sql"))
  .sort();

/** Each rebuilding migration and the tables it rebuilds. */
const REBUILDS: Record<string, string[]> = {
  "0160_without_rowid.sql": ["events", "notifications"],
  "0175_status_history_without_rowid.sql": ["notification_status_history"],
  "0180_entities_without_rowid.sql": ["orders", "medication_requests", "refills"],
  "0186_notification_id_by_job.sql": ["notifications"],
};

/** Values the tables' CHECK constraints allow, where a column has one. */
const CHECKED: Record<string, string> = {
  "notifications.channel": "sms",
  "notifications.status": "sent",
  "events.status": "processed",
};

describe("migrations that rebuild a table keep every value in its column", () => {
  it.each(Object.entries(REBUILDS))("%s", (migration, tables) => {
    expect(files).toContain(migration);
    const db = new DatabaseSync(":memory:");
    const apply = (name: string) => db.exec(readFileSync(path.join(migrations, name), "utf8"));
    for (const name of files.filter((file) => file < migration)) apply(name);

    const written = new Map<string, [string, string | number][]>();
    for (const table of tables) {
      const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string }[];
      // A JSON string naming the column (JSON columns are checked by triggers), an integer for integers.
      const values = columns.map(({ name, type }, index): [string, string | number] => [
        name,
        CHECKED[`${table}.${name}`] ?? (type.includes("INT") ? index + 1 : JSON.stringify(`${table}.${name}`)),
      ]);
      db.prepare(
        `INSERT INTO ${table} (${values.map(([name]) => name).join(", ")}) VALUES (${values.map(() => "?").join(", ")})`,
      ).run(...values.map(([, value]) => value));
      written.set(table, values);
    }
    for (const name of files.filter((file) => file >= migration)) apply(name);

    for (const [table, values] of written) {
      const row = db.prepare(`SELECT * FROM ${table}`).get() as Record<string, unknown>;
      const kept = values.filter(([name]) => name in row);
      expect(Object.fromEntries(kept.map(([name]) => [name, row[name]])), table).toEqual(Object.fromEntries(kept));
      expect(values.length, `${table} lost columns`).toBeLessThanOrEqual(Object.keys(row).length);
    }
  });
});

describe("0175 keeps each notification's status history in the order it was written", () => {
  it("numbers the stored rows of each notification by rowid, whatever their times say", () => {
    const migration = "0175_status_history_without_rowid.sql";
    const db = new DatabaseSync(":memory:");
    const apply = (name: string) => db.exec(readFileSync(path.join(migrations, name), "utf8"));
    for (const name of files.filter((file) => file < migration)) apply(name);
    // Two notifications' changes interleaved, two of them in the same millisecond and one whose time
    // steps back (another sender's clock): only the rowid says which came first.
    const rows: [string, string, string][] = [
      ["ntf_b", "held", "2026-01-01T00:00:00.000Z"],
      ["ntf_a", "held", "2026-01-01T00:00:00.000Z"],
      ["ntf_a", "pending", "2026-01-01T00:00:01.000Z"],
      ["ntf_b", "pending", "2026-01-01T00:00:00.000Z"],
      ["ntf_a", "sent", "2026-01-01T00:00:01.000Z"],
      ["ntf_b", "sent", "2025-12-31T23:59:59.000Z"],
      ["ntf_a", "delivered", "2026-01-01T00:00:02.000Z"],
    ];
    const insert = db.prepare(`INSERT INTO notification_status_history (notification_id, status, at) VALUES (?, ?, ?)`);
    for (const row of rows) insert.run(...row);
    for (const name of files.filter((file) => file >= migration)) apply(name);

    const stored = db
      .prepare(`SELECT notification_id, seq, status, at FROM notification_status_history ORDER BY notification_id, seq`)
      .all();
    expect(stored).toEqual(
      ["ntf_a", "ntf_b"].flatMap((id) =>
        rows
          .filter(([notificationId]) => notificationId === id)
          .map(([notificationId, status, at], index) => ({
            notification_id: notificationId,
            seq: index + 1,
            status,
            at,
          })),
      ),
    );
  });
});

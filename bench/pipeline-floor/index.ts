/**
 * The pipeline floor: the least a receiver that enqueues and then applies each event to D1 can do.
 * The edge is the enqueue floor's (read the body, send it to the same local queue, answer 200); the
 * consumer only inserts each batch's events into D1 in one `db.batch` and acks. No key check, no
 * schema, no claim, no handlers, no outbox, no log line. The full pipeline's events/s is reported as a
 * ratio to this Worker's, driven by the same stream in the same run (`pipeline.vs_floor`).
 */
interface FloorEnv {
  EVENTS: { send(body: string): Promise<void> };
  DB: D1Database;
}

interface D1Database {
  prepare(sql: string): { bind(...values: unknown[]): unknown };
  batch(statements: unknown[]): Promise<unknown>;
}

interface FloorBatch {
  messages: { body: unknown }[];
  ackAll(): void;
}

const TABLE = "CREATE TABLE IF NOT EXISTS floor_events (event_id TEXT PRIMARY KEY, body TEXT NOT NULL)";
const INSERT = "INSERT OR IGNORE INTO floor_events (event_id, body) VALUES (?1, ?2)";

function eventId(body: string): string {
  try {
    const id = (JSON.parse(body) as { event_id?: unknown }).event_id;
    return typeof id === "string" ? id : body;
  } catch {
    return body;
  }
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    await env.EVENTS.send(await request.text());
    return new Response('{"received":true}', { status: 200, headers: { "content-type": "application/json" } });
  },

  async queue(batch: FloorBatch, env: FloorEnv): Promise<void> {
    const bodies = batch.messages.map((message) => String(message.body));
    await env.DB.batch([
      env.DB.prepare(TABLE).bind(),
      ...bodies.map((body) => env.DB.prepare(INSERT).bind(eventId(body), body)),
    ]);
    batch.ackAll();
  },
};

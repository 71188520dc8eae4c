/**
 * The enqueue floor: the least a receiver that acknowledges only after enqueueing can do. It reads
 * the body, sends it to the same local queue the receiver uses, and answers 200 — no key check, no
 * schema, no log line. The receiver's ACK figures are compared with this Worker's.
 */
interface FloorEnv {
  EVENTS: { send(body: string): Promise<void> };
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    await env.EVENTS.send(await request.text());
    return new Response('{"received":true}', { status: 200, headers: { "content-type": "application/json" } });
  },
};

/**
 * The pipeline's event stream: order lifecycles (created → processing → shipped → delivered, one
 * distinct order id each), interleaved across orders, a share of lifecycles sent shuffled, and a
 * share of deliveries that are re-sends of an already-sent event (same event_id, same body), the
 * way NovaMed's retries and at-least-once delivery produce them. Deterministic for a given seed.
 */

/** One delivery the pipeline will POST. */
export interface Delivery {
  eventId: string;
  body: string;
  /** True for a re-send of an event that was already sent earlier in the stream. */
  duplicate: boolean;
}

/** One order's lifecycle and the status its order must end in, whatever the arrival order. */
export interface Lifecycle {
  orderId: string;
  expectedStatus: string;
  outOfOrder: boolean;
}

export interface EventStream {
  deliveries: Delivery[];
  lifecycles: Lifecycle[];
  uniqueEvents: number;
  duplicates: number;
}

const STEPS = ["created", "processing", "shipped", "delivered"] as const;

/** Orders are spread over this many synthetic patients (registered by the pipeline for notifications). */
export const PATIENTS = 100;

/** The synthetic patient id of patient number `index`. */
export const patientId = (index: number) => `pat_bench_${index}`;
const CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";

/** mulberry32: a tiny seeded PRNG, so a run's stream can be reproduced from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * Builds `total` deliveries of which `round(total · duplicateRate)` are re-sends; `outOfOrderRate`
 * of the lifecycles are sent in a shuffled order. `tag` makes ids unique per run.
 */
export function buildStream(options: {
  total: number;
  duplicateRate: number;
  outOfOrderRate: number;
  seed: number;
  tag: string;
}): EventStream {
  const random = prng(options.seed);
  const duplicates = Math.round(options.total * options.duplicateRate);
  const uniqueEvents = options.total - duplicates;
  const orders = Math.ceil(uniqueEvents / STEPS.length);
  const start = Date.parse("2025-01-15T09:00:00.000Z");

  // Each lifecycle's events in the order they will be sent.
  const queues: { eventId: string; body: string }[][] = [];
  const lifecycles: Lifecycle[] = [];
  let remaining = uniqueEvents;
  for (let order = 0; order < orders; order++) {
    const steps = STEPS.slice(0, Math.min(STEPS.length, remaining));
    remaining -= steps.length;
    const orderId = `ord_${options.tag}_${order}`;
    const events = steps.map((step, index) => {
      const eventId = `evt_${options.tag}_${order}_${step}`;
      const data: Record<string, unknown> = {
        order_id: orderId,
        patient_id: patientId(order % PATIENTS),
        medication_request_id: `med_req_${options.tag}_${order}`,
      };
      if (step === "shipped") {
        // The guide's order:shipped example fields.
        Object.assign(data, {
          tracking_number: `1Z999AA1${String(order).padStart(10, "0")}`,
          carrier: "UPS",
          estimated_delivery: "2025-01-18",
          shipping_address: { line1: "123 Main Street", city: "San Francisco", state: "CA", zip: "94102" },
        });
      }
      // Steps an hour apart, orders a minute apart: timestamps increase within each lifecycle.
      const timestamp = new Date(start + order * 60_000 + index * 3_600_000).toISOString();
      const body = JSON.stringify({
        event_type: `order:${step}`,
        event_id: eventId,
        timestamp,
        clinic_id: CLINIC_ID,
        data,
      });
      return { eventId, body };
    });
    const outOfOrder = events.length > 1 && random() < options.outOfOrderRate;
    if (outOfOrder) {
      // Shuffle until the order really differs from the lifecycle's own.
      const original = events.map((event) => event.eventId).join();
      do shuffle(events, random);
      while (events.map((event) => event.eventId).join() === original);
    }
    queues.push(events);
    lifecycles.push({ orderId, expectedStatus: steps.at(-1)!, outOfOrder });
  }

  // Interleave the lifecycles: a shuffled list of lifecycle slots, each slot taking its lifecycle's
  // next event, so every lifecycle keeps its own (possibly shuffled) order while orders overlap.
  const slots = shuffle(
    queues.flatMap((events, index) => events.map(() => index)),
    random,
  );
  const cursor = new Array<number>(queues.length).fill(0);
  const firstSends = slots.map((index) => queues[index]![cursor[index]!++]!);

  // Re-sends: each goes at a random position after its original (fractional positions, then sort).
  const positioned = firstSends.map((event, position) => ({ position, delivery: { ...event, duplicate: false } }));
  for (let i = 0; i < duplicates; i++) {
    const original = Math.floor(random() * firstSends.length);
    const position = original + 0.5 + random() * (firstSends.length - original - 0.5);
    positioned.push({ position, delivery: { ...firstSends[original]!, duplicate: true } });
  }
  positioned.sort((a, b) => a.position - b.position);
  return { deliveries: positioned.map((entry) => entry.delivery), lifecycles, uniqueEvents, duplicates };
}

import { type Envelope, type EventType, generateEvents, type LifecycleOptions } from "./lifecycles.ts";
import { createRandom } from "./prng.ts";

/**
 * The send plan: which body goes out in which order. Pure and deterministic: the same options give
 * the same plan, byte for byte, so a run can be replayed with its seed and start time. The simulator
 * sends it to a receiver; the bench (bench/pipeline.ts) pushes it through the whole pipeline.
 */

export interface PlanOptions extends LifecycleOptions {
  /** Deliveries to make, re-sends included (retries are not deliveries). */
  count: number;
  /** Fraction of deliveries that re-send an already-sent event (same event_id, same body). In [0, 1). */
  duplicateRate: number;
  /** Fraction of entity lifecycles whose events are sent in a shuffled order. In [0, 1]. */
  outOfOrderRate: number;
}

export interface PlannedSend {
  /** Position in the plan, from 0. */
  index: number;
  envelope: Envelope;
  /** The exact request body; a re-send shares its original's string. */
  body: string;
  /** For a re-send, the index of the send it repeats; null for a first delivery. */
  duplicateOf: number | null;
  /** The lifecycle this event belongs to, e.g. "order:ord_…". */
  entity: string;
  /** Whether this event's lifecycle is sent shuffled. */
  outOfOrder: boolean;
}

export interface Plan {
  sends: PlannedSend[];
  /** Distinct events in the plan. */
  uniqueEvents: number;
  duplicates: number;
  /** Lifecycles (of two events or more) sent shuffled. */
  shuffledLifecycles: number;
}

/**
 * Builds the plan: `count - duplicates` fresh events in timestamp order, some lifecycles shuffled
 * among their own slots, and re-sends inserted at random positions, each repeating an earlier send.
 */
export function buildPlan(options: PlanOptions): Plan {
  // A separate stream from the events', so changing a rate never changes the events themselves.
  const random = createRandom(`${options.seed}/plan`);
  const duplicates =
    options.count <= 1 ? 0 : Math.min(options.count - 1, Math.round(options.count * options.duplicateRate));
  const events = generateEvents(options.count - duplicates, options);

  // Out of order: permute a lifecycle's events among the positions that lifecycle already occupies,
  // so other lifecycles are untouched and the shuffled one really arrives in a different order.
  const slotsByEntity = new Map<string, number[]>();
  events.forEach((event, position) => {
    const slots = slotsByEntity.get(event.entity) ?? [];
    slots.push(position);
    slotsByEntity.set(event.entity, slots);
  });
  const order = events.map((_, position) => position);
  const shuffled = new Set<string>();
  for (const [entity, slots] of slotsByEntity) {
    if (slots.length < 2 || !random.chance(options.outOfOrderRate)) continue;
    const permuted = random.shuffle([...slots]);
    // A shuffle can return the original order; reversing then guarantees "out of order".
    if (permuted.every((slot, i) => slot === slots[i])) permuted.reverse();
    slots.forEach((slot, i) => {
      order[slot] = permuted[i] ?? slot;
    });
    shuffled.add(entity);
  }

  // Re-sends: `duplicates` distinct positions after the first, each repeating an earlier fresh send.
  const candidates = Array.from({ length: Math.max(0, options.count - 1) }, (_, i) => i + 1);
  const duplicatePositions = new Set(random.shuffle(candidates).slice(0, duplicates));
  const sends: PlannedSend[] = [];
  const freshIndexes: number[] = [];
  let nextFresh = 0;
  for (let index = 0; index < options.count; index++) {
    const original = duplicatePositions.has(index) ? sends[random.pick(freshIndexes)] : undefined;
    if (original) {
      sends.push({ ...original, index, duplicateOf: original.index });
      continue;
    }
    const event = events[order[nextFresh] ?? nextFresh];
    nextFresh += 1;
    if (!event) throw new RangeError(`plan ran out of events at send ${index}`);
    sends.push({
      index,
      envelope: event.envelope,
      body: JSON.stringify(event.envelope),
      duplicateOf: null,
      entity: event.entity,
      outOfOrder: shuffled.has(event.entity),
    });
    freshIndexes.push(index);
  }

  return { sends, uniqueEvents: events.length, duplicates, shuffledLifecycles: shuffled.size };
}

/** The entity an event type belongs to: the part before the colon (`order`, `medication_request`, `refill`). */
export type EntityKind = EventType extends `${infer Kind}:${string}` ? Kind : never;

/** Where one entity's lifecycle must end, whatever order its events arrived in. */
export interface LifecycleOutcome {
  kind: EntityKind;
  /** The entity's NovaMed id (`order_id`, `medication_request_id` or `refill_id`). */
  id: string;
  /** The action of the lifecycle's latest event, which is also its highest-ranked status. */
  finalStatus: string;
  outOfOrder: boolean;
}

/**
 * The status each entity of the plan must end in once every event is applied: the action of its
 * latest event (lifecycles only move forward in time). The bench checks the receiver against this.
 */
export function lifecycleOutcomes(plan: Plan): LifecycleOutcome[] {
  const latest = new Map<string, PlannedSend>();
  for (const send of plan.sends) {
    const seen = latest.get(send.entity);
    if (!seen || Date.parse(send.envelope.timestamp) >= Date.parse(seen.envelope.timestamp)) {
      latest.set(send.entity, send);
    }
  }
  return [...latest.entries()].map(([entity, send]) => {
    const [kind, action] = send.envelope.event_type.split(":") as [EntityKind, string];
    return { kind, id: entity.slice(kind.length + 1), finalStatus: action, outOfOrder: send.outOfOrder };
  });
}

import {
  CARRIERS,
  EVENT_TYPES,
  type EventType,
  MEDICATION_REQUEST_CANCEL_REASONS,
  MEDICATIONS,
  ORDER_CANCEL_REASONS,
  REFILL_DENIAL_REASONS,
  type ShippingAddress,
  syntheticAddress,
  trackingNumber,
} from "./catalog.ts";
import { createRandom, type Random } from "./prng.ts";

/**
 * Consistent NovaMed event lifecycles for a few synthetic patients. A "story" follows one
 * prescription: the medication request (created → approved → filled, or cancelled), its order
 * (created → processing → shipped → delivered, or cancelled), and refills (requested → approved,
 * which starts a new order, or denied). Time only moves forward inside a story, so every entity's
 * events have increasing timestamps. Time is compressed: steps are minutes to hours apart.
 */

export { EVENT_TYPES, type EventType };

/** The envelope every NovaMed webhook shares (guide: "Webhook Payload Structure"). */
export interface Envelope {
  event_type: EventType;
  event_id: string;
  timestamp: string;
  clinic_id: string;
  data: Record<string, unknown>;
}

export interface GeneratedEvent {
  envelope: Envelope;
  /** The entity whose lifecycle this event belongs to, e.g. "order:ord_…" (the out-of-order unit). */
  entity: string;
  /** The event's time in epoch milliseconds (the envelope's timestamp). */
  at: number;
}

export interface LifecycleOptions {
  /** Any string; the same seed yields the same events. */
  seed: string;
  clinicId: string;
  /** Epoch milliseconds of the first event. */
  startTime: number;
  /**
   * Patients to spread the stories over, instead of a few generated ones: the bench registers these
   * in the receiver's directory so the events it sends produce notifications.
   */
  patientIds?: readonly string[];
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

interface Patient {
  id: string;
  /** One address per patient, so every order of theirs ships to the same place. */
  address: ShippingAddress;
}

/**
 * Generates exactly `count` events in timestamp order. Whole stories are written until there are
 * enough events; the last story is cut short, which still leaves each entity a valid prefix of its
 * lifecycle. Pure: depends only on `count` and `options`.
 */
export function generateEvents(count: number, options: LifecycleOptions): GeneratedEvent[] {
  const random = createRandom(`${options.seed}/events`);
  // "A few" patients, growing slowly with the run so that larger runs still repeat patients.
  const patients: Patient[] = options.patientIds
    ? options.patientIds.map((id) => ({ id, address: syntheticAddress(random) }))
    : Array.from({ length: Math.min(200, Math.max(3, Math.ceil(count / 30))) }, () => ({
        id: `pat_${random.token(10)}`,
        address: syntheticAddress(random),
      }));
  const practitioners = Array.from({ length: 4 }, () => `prac_${random.token(8)}`);

  const events: GeneratedEvent[] = [];
  let storyStart = options.startTime;
  while (events.length < count) {
    writeStory({ random, events, clinicId: options.clinicId, patients, practitioners }, storyStart);
    // Prescriptions start a few minutes apart, so stories overlap as they would at a busy clinic.
    storyStart += random.int(5, 30) * MINUTE + random.int(0, 59_999);
  }
  // Stable sort: events of one story with equal times keep their causal order.
  return events.slice(0, count).sort((a, b) => a.at - b.at);
}

interface StoryContext {
  random: Random;
  events: GeneratedEvent[];
  clinicId: string;
  patients: readonly Patient[];
  practitioners: readonly string[];
}

function writeStory(ctx: StoryContext, start: number): void {
  const { random } = ctx;
  let now = start;
  /** Moves the story's clock forward by minMinutes..maxMinutes plus some seconds. */
  const advance = (minMinutes: number, maxMinutes: number) => {
    now += random.int(minMinutes, maxMinutes) * MINUTE + random.int(0, 59_999);
  };
  const emit = (eventType: EventType, entity: string, data: Record<string, unknown>) => {
    const envelope: Envelope = {
      event_type: eventType,
      event_id: `evt_${random.token(24)}`,
      timestamp: new Date(now).toISOString(),
      clinic_id: ctx.clinicId,
      data,
    };
    ctx.events.push({ envelope, entity, at: now });
  };
  const iso = () => new Date(now).toISOString();

  const patient = random.pick(ctx.patients);
  const medication = random.pick(MEDICATIONS);
  const medicationRequestId = `med_req_${random.token(10)}`;
  const request = {
    medication_request_id: medicationRequestId,
    patient_id: patient.id,
    practitioner_id: random.pick(ctx.practitioners),
    medication_name: medication.name,
    quantity: medication.quantity,
    refills: random.int(0, 5),
  };
  const requestEntity = `medication_request:${medicationRequestId}`;
  const cancelRequest = () =>
    emit("medication_request:cancelled", requestEntity, {
      medication_request_id: medicationRequestId,
      patient_id: patient.id,
      reason: random.pick(MEDICATION_REQUEST_CANCEL_REASONS),
      cancelled_at: iso(),
    });

  emit("medication_request:created", requestEntity, { ...request, created_at: iso() });
  if (random.chance(0.08)) {
    advance(30, 600);
    cancelRequest();
    return;
  }
  advance(10, 240);
  emit("medication_request:approved", requestEntity, { ...request, approved_at: iso() });

  /** One order for this request; returns whether it was delivered. */
  const writeOrder = (refillId: string | undefined, fillsRequest: boolean): boolean => {
    advance(5, 60);
    const orderId = `ord_${random.token(10)}`;
    const entity = `order:${orderId}`;
    const order = {
      order_id: orderId,
      patient_id: patient.id,
      medication_request_id: medicationRequestId,
      ...(refillId ? { refill_id: refillId } : {}),
    };
    const cancelAfter = random.chance(0.12) ? random.pick(["created", "processing"] as const) : undefined;
    const cancel = () => {
      advance(10, 240);
      emit("order:cancelled", entity, { ...order, reason: random.pick(ORDER_CANCEL_REASONS), cancelled_at: iso() });
    };

    emit("order:created", entity, { ...order, created_at: iso() });
    if (cancelAfter === "created") {
      cancel();
      return false;
    }
    advance(10, 120);
    emit("order:processing", entity, { ...order });
    if (cancelAfter === "processing") {
      cancel();
      return false;
    }
    if (fillsRequest) {
      advance(30, 240);
      emit("medication_request:filled", requestEntity, {
        medication_request_id: medicationRequestId,
        patient_id: patient.id,
        order_id: orderId,
        medication_name: medication.name,
        quantity: medication.quantity,
        filled_at: iso(),
      });
    }
    advance(30, 180);
    const carrier = random.pick(CARRIERS);
    const tracking = trackingNumber(random, carrier);
    // Same fields as the guide's order:shipped example (plus refill_id on a refill's order).
    emit("order:shipped", entity, {
      ...order,
      tracking_number: tracking,
      carrier,
      estimated_delivery: new Date(now + random.int(1, 3) * DAY).toISOString().slice(0, 10),
      shipping_address: { ...patient.address },
    });
    advance(240, 1800);
    emit("order:delivered", entity, { ...order, carrier, tracking_number: tracking, delivered_at: iso() });
    return true;
  };

  let delivered = writeOrder(undefined, true);
  if (!delivered) {
    // Half the time a cancelled first order ends the prescription too.
    if (random.chance(0.5)) {
      advance(10, 240);
      cancelRequest();
    }
    return;
  }

  // Up to two refill cycles per story keeps runs varied instead of dominated by long stories.
  let remaining = request.refills;
  for (let cycle = 0; cycle < 2 && delivered && remaining > 0 && random.chance(0.6); cycle++) {
    advance(120, 1440);
    const refillId = `ref_${random.token(10)}`;
    const entity = `refill:${refillId}`;
    const refill = { refill_id: refillId, medication_request_id: medicationRequestId, patient_id: patient.id };
    emit("refill:requested", entity, { ...refill, requested_at: iso() });
    advance(10, 180);
    if (!random.chance(0.75)) {
      emit("refill:denied", entity, { ...refill, reason: random.pick(REFILL_DENIAL_REASONS), denied_at: iso() });
      return;
    }
    remaining -= 1;
    emit("refill:approved", entity, { ...refill, refills_remaining: remaining, approved_at: iso() });
    delivered = writeOrder(refillId, false);
  }
}

import { z } from "zod";
import { type EntityKind, type EventTypeOf, eventTypeParts, type StatusOf } from "../event-types";
import { lazy } from "../lazy";
import type { EventEnvelope } from "./envelope";
import { type ErrorIssue, toIssues } from "./issues";
import { normaliseCalendarDate } from "./timestamp";

/**
 * Per-entity `data` shapes for the NovaMed event types (listed in ../event-types.ts). The guide shows
 * payloads for `order:shipped` and `medication_request:approved` only; for the rest we require the ids
 * a handler needs, tolerate odd optional fields (coerced, or dropped with a warning) and let unknown
 * fields through, because NovaMed may add fields at any time.
 */

/** A number where text is expected means that text (`"zip": 94102`, `"tracking_number": 123`). */
const numberAsText = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? String(value) : value);
/** A numeric string where a number is expected means that number (`"quantity": "30"`). */
const textAsNumber = (value: unknown) =>
  typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;

/**
 * An entity's `data`: the ids its handler needs (a missing or malformed one makes the event
 * `invalid`) and its optional fields, each checked on its own (see {@link parseEvent}). A nested
 * object of optional fields (the shipping address) is checked field by field too.
 */
interface DataShape {
  required: z.ZodRawShape;
  optional: OptionalShape;
}
type OptionalShape = { [field: string]: z.ZodType | OptionalShape };

/**
 * The data shape of each entity's events; every event type of an entity shares it. Built on the
 * first event (src/lazy.ts), not at startup: the edge never needs it.
 */
const dataShapes = lazy(() => {
  const id = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" }).max(200, {
    error: "must be at most 200 characters",
  });

  const optionalId = z.preprocess(numberAsText, id.nullish());
  const optionalText = z.preprocess(
    numberAsText,
    z.string({ error: "must be a string" }).max(2000, { error: "is too long" }).nullish(),
  );
  const isoDate = z.string({ error: "must be a string" }).max(40, { error: "is too long" }).nullish();
  /**
   * A calendar date the lifecycle watch compares (`estimated_delivery`), stored as `YYYY-MM-DD` so it
   * compares as a date; anything that is not a date is dropped with a warning (the no-estimate rule
   * then applies), never kept as text.
   */
  const calendarDate = z
    .string({ error: "must be a string" })
    .max(40, { error: "is too long" })
    .transform((value, context) => {
      const date = normaliseCalendarDate(value);
      if (date === null) {
        context.addIssue({
          code: "custom",
          message: "must be a date: YYYY-MM-DD, an ISO 8601 date-time or MM/DD/YYYY",
        });
        return z.NEVER;
      }
      return date;
    })
    .nullish();
  /** US ZIP codes sent as numbers lose their leading zeros (02134 → 2134); five digits put them back. */
  const zip = z.preprocess(
    (value) =>
      typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 100_000
        ? String(value).padStart(5, "0")
        : numberAsText(value),
    z.string({ error: "must be a string" }).max(20, { error: "is too long" }).nullish(),
  );

  const shippingAddress = { line1: optionalText, line2: optionalText, city: optionalText, state: optionalText, zip };

  const orderData = {
    required: { order_id: id, patient_id: id },
    optional: {
      medication_request_id: optionalId,
      tracking_number: optionalText,
      carrier: optionalText,
      estimated_delivery: calendarDate,
      shipping_address: shippingAddress,
      reason: optionalText,
      cancellation_reason: optionalText,
    },
  } satisfies DataShape;

  const medicationRequestData = {
    required: { medication_request_id: id, patient_id: id },
    optional: {
      practitioner_id: optionalId,
      medication_name: optionalText,
      quantity: z.preprocess(
        textAsNumber,
        z.number({ error: "must be a number" }).nonnegative({ error: "must not be negative" }).nullish(),
      ),
      refills: z.preprocess(
        textAsNumber,
        z
          .number({ error: "must be a number" })
          .int({ error: "must be an integer" })
          .nonnegative({ error: "must not be negative" })
          .nullish(),
      ),
      approved_at: isoDate,
      filled_at: isoDate,
      reason: optionalText,
      cancellation_reason: optionalText,
    },
  } satisfies DataShape;

  const refillData = {
    required: { refill_id: id, patient_id: id },
    optional: { medication_request_id: optionalId, reason: optionalText, denial_reason: optionalText },
  } satisfies DataShape;

  return {
    order: orderData,
    medication_request: medicationRequestData,
    refill: refillData,
  } as const satisfies Record<EntityKind, DataShape>;
});

/** Each entity's required ids as one schema (unknown fields pass), built once per entity. */
const requiredSchemas = new Map<EntityKind, z.ZodType<Record<string, unknown>>>();

function requiredSchema(entity: EntityKind): z.ZodType<Record<string, unknown>> {
  let schema = requiredSchemas.get(entity);
  if (!schema) {
    schema = z.looseObject(dataShapes()[entity].required);
    requiredSchemas.set(entity, schema);
  }
  return schema;
}

/** The type a shape's optional fields have once checked: each may be absent. */
type OptionalOutput<S extends OptionalShape> = {
  [F in keyof S]?: S[F] extends z.ZodType
    ? z.output<S[F]>
    : S[F] extends OptionalShape
      ? OptionalOutput<S[F]> | null
      : never;
};
type DataOutput<S extends DataShape> = z.output<z.ZodObject<S["required"]>> &
  OptionalOutput<S["optional"]> &
  Record<string, unknown>;

/** The checked `data` of an event about entity `K`. */
export type DataOf<K extends EntityKind> = K extends EntityKind ? DataOutput<ReturnType<typeof dataShapes>[K]> : never;

/**
 * A NovaMed event of entity `K` whose `data` passed its schema, with its type taken apart: the
 * entity, the status the event moves it to and that status's rank (from the event-type table).
 */
export type EventOf<K extends EntityKind> = Pick<EventEnvelope, "event_id" | "timestamp" | "clinic_id"> & {
  event_type: EventTypeOf<K>;
  entity: K;
  status: StatusOf<K>;
  rank: number;
  data: DataOf<K>;
};

/** Any valid NovaMed event; `entity` (or `event_type`) discriminates `data`. */
export type NovaMedEvent = { [K in EntityKind]: EventOf<K> }[EntityKind];

export type ParsedEvent =
  | { kind: "valid"; event: NovaMedEvent; warnings: ErrorIssue[] }
  | { kind: "unknown_type" }
  | { kind: "invalid"; issues: ErrorIssue[] };

/**
 * Checks optional fields one by one: a value that passes (after its coercion) is kept, one that does
 * not is dropped with a warning, so an odd optional field never costs the event its state change.
 * Unknown top-level fields pass through untouched (NovaMed may add fields at any time); a nested
 * object (the shipping address) keeps only the fields we declare, so an unknown key there (a
 * recipient's name, a phone) is never stored.
 */
function checkOptional(
  shape: OptionalShape,
  input: Record<string, unknown>,
  path: string,
  warnings: ErrorIssue[],
  keepUnknown = true,
): Record<string, unknown> {
  const output: Record<string, unknown> = keepUnknown ? { ...input } : {};
  for (const [field, schema] of Object.entries(shape)) {
    if (!(field in input) || input[field] === undefined) continue;
    const value = input[field];
    const fieldPath = `${path}.${field}`;
    if (schema instanceof z.ZodType) {
      const result = schema.safeParse(value);
      if (result.success) output[field] = result.data;
      else {
        delete output[field];
        warnings.push(...toIssues(result.error).map((issue) => ({ ...issue, path: joinPath(fieldPath, issue.path) })));
      }
    } else if (value === null) {
      output[field] = null;
    } else if (typeof value === "object" && !Array.isArray(value)) {
      output[field] = checkOptional(schema, value as Record<string, unknown>, fieldPath, warnings, false);
    } else {
      delete output[field];
      warnings.push({ path: fieldPath, message: "must be an object" });
    }
  }
  return output;
}

function joinPath(base: string, rest: string): string {
  return rest ? `${base}.${rest}` : base;
}

/**
 * Checks an accepted envelope's `data` against its type's shape: a missing or malformed required id
 * makes it `invalid`; optional fields are coerced or dropped with warnings. Issues and warnings carry
 * paths and messages, never values.
 */
export function parseEvent(envelope: EventEnvelope): ParsedEvent {
  const parts = eventTypeParts(envelope.event_type);
  if (!parts) return { kind: "unknown_type" };
  const shape: DataShape = dataShapes()[parts.entity];
  const required = requiredSchema(parts.entity).safeParse(envelope.data);
  if (!required.success) {
    return {
      kind: "invalid",
      issues: toIssues(required.error).map((issue) => ({ ...issue, path: `data.${issue.path}` })),
    };
  }
  const warnings: ErrorIssue[] = [];
  const data = checkOptional(shape.optional, required.data, "data", warnings);
  // The shape was chosen by `parts.entity`, so `data` matches it; TypeScript cannot follow that link.
  return { kind: "valid", event: { ...envelope, ...parts, data } as NovaMedEvent, warnings };
}

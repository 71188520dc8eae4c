import type { Random } from "./prng.ts";

// The receiver's one table of event types (a leaf module with no imports, so it runs on Node as is):
// the simulator sends exactly the types the receiver knows, and a type added there is simulated here.
export { EVENT_TYPES, type EventType } from "../../src/event-types.ts";

/**
 * Synthetic but realistic values for simulated events. Nothing here describes a real person: street
 * names are placeholders ("Example Ave"), cities are real only so addresses look plausible, and
 * medications are common generics.
 */

export interface Medication {
  name: string;
  /** What one fill usually contains (tablets, or 1 for a vial). */
  quantity: number;
}

export const MEDICATIONS: readonly Medication[] = [
  { name: "Atorvastatin 20 mg tablet", quantity: 90 },
  { name: "Lisinopril 10 mg tablet", quantity: 90 },
  { name: "Levothyroxine 50 mcg tablet", quantity: 90 },
  { name: "Metformin 500 mg tablet", quantity: 180 },
  { name: "Amlodipine 5 mg tablet", quantity: 30 },
  { name: "Sertraline 50 mg tablet", quantity: 30 },
  { name: "Omeprazole 20 mg capsule", quantity: 30 },
  { name: "Losartan 50 mg tablet", quantity: 90 },
  // The guide's own example medication.
  { name: "Testosterone Cypionate", quantity: 1 },
];

const STREETS = ["Example Ave", "Sample St", "Placeholder Rd", "Demo Blvd", "Specimen Ln", "Fictional Way"];

const CITIES: ReadonlyArray<{ city: string; state: string; zip: string }> = [
  { city: "San Francisco", state: "CA", zip: "94102" },
  { city: "Austin", state: "TX", zip: "78701" },
  { city: "Denver", state: "CO", zip: "80202" },
  { city: "Portland", state: "OR", zip: "97204" },
  { city: "Chicago", state: "IL", zip: "60601" },
  { city: "Boston", state: "MA", zip: "02108" },
  { city: "Seattle", state: "WA", zip: "98101" },
  { city: "Miami", state: "FL", zip: "33130" },
  { city: "Phoenix", state: "AZ", zip: "85004" },
  { city: "Atlanta", state: "GA", zip: "30303" },
];

export const CARRIERS = ["UPS", "FedEx", "USPS", "DHL"] as const;
export type Carrier = (typeof CARRIERS)[number];

export const ORDER_CANCEL_REASONS = ["patient_request", "payment_failed", "address_undeliverable", "out_of_stock"];
export const MEDICATION_REQUEST_CANCEL_REASONS = ["practitioner_cancelled", "patient_request", "duplicate_request"];
export const REFILL_DENIAL_REASONS = [
  "too_early",
  "appointment_required",
  "no_refills_remaining",
  "practitioner_declined",
];

export interface ShippingAddress {
  line1: string;
  city: string;
  state: string;
  zip: string;
}

/** A placeholder street address in a real city, shaped like the guide's `shipping_address`. */
export function syntheticAddress(random: Random): ShippingAddress {
  const place = random.pick(CITIES);
  return { line1: `${random.int(1, 99) * 100} ${random.pick(STREETS)}`, ...place };
}

const DIGITS = "0123456789";
const UPPER_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A tracking number in the carrier's usual shape (no check digits: these never reach a carrier). */
export function trackingNumber(random: Random, carrier: Carrier): string {
  switch (carrier) {
    case "UPS":
      // 1Z + 6-character shipper number + 2-digit service code + 8 digits, like the guide's 1Z999AA10123456784.
      return `1Z${random.token(6, UPPER_ALNUM)}${random.token(2, DIGITS)}${random.token(8, DIGITS)}`;
    case "FedEx":
      return random.token(12, DIGITS);
    case "USPS":
      return `9400${random.token(18, DIGITS)}`;
    case "DHL":
      return random.token(10, DIGITS);
  }
}

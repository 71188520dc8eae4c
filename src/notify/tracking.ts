/**
 * Carrier and tracking facts come from NovaMed's payload as free text. Nothing of them reaches a
 * patient verbatim: the carrier is one of a known list (anything else is not named), a tracking
 * number is shown only when it has that carrier's format (letters and digits, at most 40, so never a
 * URL or a sentence), and the only links are the carriers' own tracking pages, built here.
 *
 * The list: the four national carriers US pharmacies ship with (UPS, FedEx, USPS, DHL), and OnTrac,
 * the regional carrier mail-order pharmacies use for next-day delivery in the West and (since its
 * 2024 merger with LaserShip, whose name still appears in feeds) the East. Amazon Logistics is not on
 * it: its tracking page needs the buyer's Amazon account, so we could link to nothing useful.
 */

/** The carriers we name to patients. */
export type Carrier = "UPS" | "FedEx" | "USPS" | "DHL" | "OnTrac";

interface CarrierFormat {
  /** Tracking numbers of this carrier (after removing spaces and dashes, upper-cased). */
  number: RegExp;
  /** The carrier's own public tracking page for a number. */
  page: (number: string) => string;
}

const CARRIERS: Record<Carrier, CarrierFormat> = {
  // 1Z + 6-character shipper number + service code + package number: 18 characters.
  UPS: { number: /^1Z[0-9A-Z]{16}$/, page: (number) => `https://www.ups.com/track?tracknum=${number}` },
  // Express and Ground (12 or 15 digits), SmartPost / Ground 96 (20 or 22 digits), door tags (DT + 12).
  FedEx: {
    number: /^(\d{12}|\d{15}|\d{20}|\d{22}|DT\d{12})$/,
    page: (number) => `https://www.fedex.com/fedextrack/?trknbr=${number}`,
  },
  // Intelligent Mail package barcodes (20 to 34 digits with routing) and international S10 (AA123456789US).
  USPS: {
    number: /^(\d{20,34}|[A-Z]{2}\d{9}US)$/,
    page: (number) => `https://tools.usps.com/go/TrackConfirmAction?tLabels=${number}`,
  },
  // Express waybills (10 digits), eCommerce (GM + 16-20 digits), parcel (JJD + 18-20 digits, JVGL + digits).
  DHL: {
    number: /^(\d{10}|GM\d{16,20}|JJD\d{18,20}|JVGL\d{8,20})$/,
    page: (number) => `https://www.dhl.com/us-en/home/tracking.html?tracking-id=${number}`,
  },
  // OnTrac (C or D + 14 digits) and LaserShip labels (1LS + 12-16 characters, LX + 8 digits).
  OnTrac: {
    number: /^([CD]\d{14}|1LS[0-9A-Z]{12,16}|LX\d{8})$/,
    page: (number) => `https://www.ontrac.com/tracking/?number=${number}`,
  },
};

/** Spellings seen in pharmacy feeds, reduced to lower-case letters. */
const ALIASES: Record<string, Carrier> = {
  ups: "UPS",
  unitedparcelservice: "UPS",
  fedex: "FedEx",
  federalexpress: "FedEx",
  fedexground: "FedEx",
  fedexexpress: "FedEx",
  usps: "USPS",
  unitedstatespostalservice: "USPS",
  uspostalservice: "USPS",
  dhl: "DHL",
  dhlexpress: "DHL",
  dhlecommerce: "DHL",
  ontrac: "OnTrac",
  lasership: "OnTrac",
  ontraclasership: "OnTrac",
};

/** The carrier a free-text name stands for, or null when it is not one we know. */
export function normalizeCarrier(name: string | null | undefined): Carrier | null {
  if (!name || name.length > 60) return null;
  return ALIASES[name.toLowerCase().replace(/[^a-z]/g, "")] ?? null;
}

/** What a patient may be told about a shipment: every field checked, or null when unusable. */
export interface Shipment {
  carrier: Carrier | null;
  /** Shown only when it has the carrier's format. */
  trackingNumber: string | null;
  /** The carrier's own tracking page for that number. */
  trackingUrl: string | null;
}

/** The patient-safe view of an order's carrier and tracking number. */
export function shipmentOf(carrier: string | null | undefined, trackingNumber: string | null | undefined): Shipment {
  const known = normalizeCarrier(carrier);
  const compact = (trackingNumber ?? "").replace(/[\s-]/g, "").toUpperCase();
  const valid = known && compact.length <= 40 && CARRIERS[known].number.test(compact) ? compact : null;
  return {
    carrier: known,
    trackingNumber: valid,
    trackingUrl: known && valid ? CARRIERS[known].page(valid) : null,
  };
}

/** A tracking link for a known carrier and a number of its format; null otherwise. */
export function trackingUrl(
  carrier: string | null | undefined,
  trackingNumber: string | null | undefined,
): string | null {
  return shipmentOf(carrier, trackingNumber).trackingUrl;
}

/** An estimated delivery as a calendar date (YYYY-MM-DD), or null for anything that is not one. */
export function deliveryDateOf(value: string | null | undefined): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(value ?? "");
  if (!match) return null;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === match[0].slice(0, 10) ? match[0].slice(0, 10) : null;
}

/**
 * Phone numbers as staff type them, to E.164. A number written internationally (`+44 20 7946 0958`,
 * `0044 20…`, `011 44 20…`) keeps its own country code; a national one (`(415) 555-0123`,
 * `020 7946 0958`) takes the clinic's country calling code (1, the US, by default), without its
 * trunk prefix (the leading 0 of most countries, the leading 1 of North America). A small careful
 * normaliser rather than libphonenumber, whose metadata alone is larger than this Worker.
 */

/** The country calling codes of two digits; 1 and 7 are the only ones of one, every other has three (ITU E.164). */
const TWO_DIGIT_CODES = new Set([
  "20",
  "27",
  "30",
  "31",
  "32",
  "33",
  "34",
  "36",
  "39",
  "40",
  "41",
  "43",
  "44",
  "45",
  "46",
  "47",
  "48",
  "49",
  "51",
  "52",
  "53",
  "54",
  "55",
  "56",
  "57",
  "58",
  "60",
  "61",
  "62",
  "63",
  "64",
  "65",
  "66",
  "81",
  "82",
  "84",
  "86",
  "90",
  "91",
  "92",
  "93",
  "94",
  "95",
  "98",
]);

/** North America's calling code: the default country of a clinic without a phone of its own. */
export const DEFAULT_CALLING_CODE = "1";

/** The country calling code of an E.164 number (`+442079460958` → `44`), or null when it is not one. */
export function callingCodeOf(e164: string | null | undefined): string | null {
  if (!e164 || !/^\+[1-9]\d{6,14}$/.test(e164)) return null;
  const digits = e164.slice(1);
  if (digits.startsWith("1") || digits.startsWith("7")) return digits.slice(0, 1);
  const two = digits.slice(0, 2);
  return TWO_DIGIT_CODES.has(two) ? two : digits.slice(0, 3);
}

/** What a typed phone number may hold: digits, one leading `+`, and the usual separators. */
const PHONE_TEXT = /^\+?[\d\s().\-/]+$/;

/**
 * `text` as an E.164 number, or null when it cannot be one. National numbers take `callingCode`
 * (digits only, e.g. `1` or `44`).
 */
export function normalisePhone(text: string, callingCode: string = DEFAULT_CALLING_CODE): string | null {
  const trimmed = text.trim();
  if (!PHONE_TEXT.test(trimmed) || trimmed.indexOf("+") > 0) return null;
  const digits = trimmed.replaceAll(/\D/g, "");
  let international: string;
  if (trimmed.startsWith("+")) international = digits;
  else if (digits.startsWith("00")) international = digits.slice(2);
  else if (callingCode === "1" && digits.startsWith("011")) international = digits.slice(3);
  else international = `${callingCode}${nationalSignificant(digits, callingCode)}`;
  if (!/^[1-9]\d{6,14}$/.test(international)) return null;
  // North American numbers are exactly ten digits after the 1, the area code and exchange never start with 0 or 1.
  if (international.startsWith("1") && !/^1[2-9]\d{2}[2-9]\d{6}$/.test(international)) return null;
  return `+${international}`;
}

/** A national number without its trunk prefix: North America's leading 1 of eleven digits, elsewhere a leading 0. */
function nationalSignificant(digits: string, callingCode: string): string {
  if (callingCode === "1") return digits.length === 11 && digits.startsWith("1") ? digits.slice(1) : digits;
  // Italy keeps its leading 0 in the international form (+39 06…).
  if (callingCode === "39") return digits;
  return digits.replace(/^0/, "");
}

/** The GSM 03.38 basic character set; one septet each. */
const GSM7_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/** The GSM 03.38 extension table; two septets each (escape + character). */
const GSM7_EXTENDED = "^{}\\[~]|€\f";

/** Septets the text takes in GSM-7, or null when it needs UCS-2 (then a segment holds 70 characters). */
export function gsm7Length(text: string): number | null {
  let length = 0;
  for (const character of text) {
    if (GSM7_BASIC.includes(character)) length += 1;
    else if (GSM7_EXTENDED.includes(character)) length += 2;
    else return null;
  }
  return length;
}

/** True when the text fits one SMS segment: 160 GSM-7 septets, or 70 UCS-2 (UTF-16) units. */
export function fitsOneSegment(text: string): boolean {
  return segmentCount(text) === 1;
}

/**
 * Segments the text takes: one up to 160 GSM-7 septets (70 UCS-2 units), otherwise 153 (67)
 * per segment, as concatenated SMS reserve room for their header.
 */
export function segmentCount(text: string): number {
  const septets = gsm7Length(text);
  if (septets === null) {
    // UCS-2 counts UTF-16 units: an emoji outside the basic plane takes two of a segment's 70.
    const units = text.length;
    return units <= 70 ? 1 : Math.ceil(units / 67);
  }
  return septets <= 160 ? 1 : Math.ceil(septets / 153);
}

/** Replaces typographic characters with their GSM-7 equivalents so a message stays GSM-7. */
export function toGsm7Friendly(text: string): string {
  return text
    .replace(/[‘’‛′]/g, "'")
    .replace(/[“”‟″]/g, '"')
    .replace(/[–—]/g, "-")
    .replace(/…/g, "...")
    .replace(/\u00a0/g, " ");
}

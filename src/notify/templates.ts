import type { Locale } from "../channels";
import { markup } from "./markup";
import { segmentCount, toGsm7Friendly } from "./sms-encoding";
import { emailContent, smsCandidates, TEXT } from "./template-text";
import { deliveryDateOf, shipmentOf } from "./tracking";

/**
 * Patient messages, in the patient's language (src/notify/template-text.ts has the words). They name
 * the clinic, the order's carrier and tracking link, and what happens next; they never name a
 * medication (an SMS may be read by anyone holding the phone) and carry no other health details.
 * Every SMS ends with its opt-out line and stays within one segment where possible, two at most.
 */

export interface MessageContext {
  kind: string;
  clinicName: string;
  clinicPhone: string | null;
  carrier?: string | null;
  trackingNumber?: string | null;
  estimatedDelivery?: string | null;
  /** English when absent. */
  locale?: Locale;
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
  /** Extra headers: the RFC 8058 unsubscribe pair, added by the sender once the recipient is known. */
  headers?: Record<string, string>;
  /** The language the email is written in (its `<html lang>`); staff alerts have none. */
  lang?: Locale;
}

/** The kinds with a template; a rule naming another event type renders the generic update. */
export const TEMPLATE_KINDS = [
  "order_shipped",
  "order_tracking_updated",
  "order_delivered",
  "order_cancelled",
  "refill_approved",
  "refill_denied",
] as const;

/** The most segments an SMS may take, whatever its fields. */
export const MAX_SMS_SEGMENTS = 2;
/** A long clinic name is shortened to this first while one segment is still the aim, then to the minimum. */
const READABLE_NAME_LENGTH = 24;
const MIN_NAME_LENGTH = 12;

/**
 * The SMS body: the richest candidate that fits one segment (GSM-7 160, UCS-2 70: Spanish with á, í,
 * ó, ú is UCS-2), shortening a long clinic name to 24 characters if that makes it fit; otherwise the
 * richest that fits two segments, shortening the name down to 12 characters. Every candidate carries
 * the opt-out line; the last resort carries nothing unbounded but the shortened clinic name.
 */
export function renderSms(context: MessageContext): string {
  const locale = context.locale ?? "en";
  const shipment = shipmentOf(context.carrier, context.trackingNumber);
  const name = [...toGsm7Friendly(context.clinicName)];
  // Shortened by characters, not UTF-16 units, so an emoji is never cut in half.
  const shortenedTo = (length: number) => name.slice(0, length).join("").trimEnd();
  const render = (clinic: string) =>
    smsCandidates(locale, context.kind, {
      clinic,
      phone: context.clinicPhone,
      carrier: shipment.carrier,
      trackingUrl: shipment.trackingUrl,
    }).map(toGsm7Friendly);
  const fitting = (segments: number, shortest: number) => {
    for (let length = name.length; length >= Math.min(shortest, name.length); length -= 1) {
      const found = render(shortenedTo(length)).find((candidate) => segmentCount(candidate) <= segments);
      if (found) return found;
    }
    return undefined;
  };
  return (
    fitting(1, READABLE_NAME_LENGTH) ??
    fitting(MAX_SMS_SEGMENTS, MIN_NAME_LENGTH) ??
    toGsm7Friendly(TEXT[locale].smsLastResort(shortenedTo(MIN_NAME_LENGTH)))
  );
}

/** The email: subject, plain text and HTML with the same content, in the patient's language. */
export function renderEmail(context: MessageContext): EmailMessage {
  const lang = context.locale ?? "en";
  const text = TEXT[lang];
  const shipment = shipmentOf(context.carrier, context.trackingNumber);
  const link =
    context.kind === "order_shipped" || context.kind === "order_tracking_updated" ? shipment.trackingUrl : null;
  const { subject, lines } = emailContent(lang, context.kind, {
    clinic: context.clinicName,
    phone: context.clinicPhone,
    carrier: shipment.carrier,
    trackingNumber: shipment.trackingNumber,
    trackingUrl: link,
    deliveryDate: deliveryDateOf(context.estimatedDelivery),
  });
  const footer = [text.contact(context.clinicPhone), `${context.clinicName}`];
  const plain = [text.greeting, "", ...lines, "", ...footer].join("\n");
  const paragraphs = lines.map((line) => {
    if (!link || !line.includes(link)) return markup`<p>${line}</p>`;
    const [before, after] = [line.slice(0, line.indexOf(link)), line.slice(line.indexOf(link) + link.length)];
    return markup`<p>${before}<a href="${link}">${link}</a>${after}</p>`;
  });
  const footerLines = footer.map((line) => markup`${line}`).join("<br>");
  const html = `<!doctype html><html lang="${lang}"><body>${markup`<p>${text.greeting}</p>`}${paragraphs.join("")}<p>${footerLines}</p></body></html>`;
  return { subject, text: plain, html, lang };
}

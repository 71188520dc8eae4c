import { markup } from "./markup";
import { fitsOneSegment, segmentCount, toGsm7Friendly } from "./sms-encoding";
import { deliveryDateOf, type Shipment, shipmentOf } from "./tracking";

/**
 * Patient messages. They name the clinic, the order's carrier and tracking link, and what happens
 * next; they never name a medication (an SMS may be read by anyone holding the phone) and carry no
 * other health details. An SMS stays within one 160-character GSM-7 segment where possible.
 */

export interface MessageContext {
  kind: string;
  clinicName: string;
  clinicPhone: string | null;
  carrier?: string | null;
  trackingNumber?: string | null;
  estimatedDelivery?: string | null;
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
  /** Extra headers: the RFC 8058 unsubscribe pair, added by the sender once the recipient is known. */
  headers?: Record<string, string>;
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

function contactLine(context: MessageContext): string {
  return context.clinicPhone ? `Questions? Call ${context.clinicPhone}.` : "Questions? Contact your clinic.";
}

/** Candidate texts, richest first; the first that fits one segment is sent. */
function smsCandidates(context: MessageContext): string[] {
  const clinic = context.clinicName;
  const stop = " Reply STOP to opt out.";
  const call = context.clinicPhone ? ` Questions? ${context.clinicPhone}` : "";
  switch (context.kind) {
    case "order_shipped": {
      const shipment = shipmentOf(context.carrier, context.trackingNumber);
      const via = shipment.carrier ? ` via ${shipment.carrier}` : "";
      const track = shipment.trackingUrl ? ` Track: ${shipment.trackingUrl}` : "";
      return [
        `${clinic}: your order has shipped${via}.${track}${stop}`,
        `${clinic}: your order has shipped${via}.${track}`,
        `${clinic}: order shipped.${track}`,
      ];
    }
    case "order_tracking_updated": {
      const shipment = shipmentOf(context.carrier, context.trackingNumber);
      const via = shipment.carrier ? ` (${shipment.carrier})` : "";
      const track = shipment.trackingUrl ? ` Track: ${shipment.trackingUrl}` : "";
      return [
        `${clinic}: the tracking number for your order was updated${via}.${track}${stop}`,
        `${clinic}: your order's tracking was updated.${track}`,
        `${clinic}: tracking updated.${track}`,
      ];
    }
    case "order_delivered":
      return [
        `${clinic}: your order was delivered.${call}${stop}`,
        `${clinic}: your order was delivered.${call}`,
        `${clinic}: your order was delivered.`,
      ];
    case "order_cancelled":
      return [
        `${clinic}: your order was cancelled. We will be in touch.${call}${stop}`,
        `${clinic}: your order was cancelled.${call}`,
        `${clinic}: your order was cancelled.`,
      ];
    case "refill_approved":
      return [
        `${clinic}: your refill request was approved. We will text you when it ships.${stop}`,
        `${clinic}: your refill request was approved.`,
      ];
    case "refill_denied":
      return [
        `${clinic}: we could not approve your refill request. Please contact us.${call}${stop}`,
        `${clinic}: we could not approve your refill request. Please contact us.`,
      ];
    default:
      return [
        `${clinic}: there is an update on your prescription. Please contact us.${call}${stop}`,
        `${clinic}: there is an update on your prescription.`,
      ];
  }
}

/**
 * The SMS body: the richest candidate that fits one GSM-7 segment. When even the leanest does not
 * (a very long clinic name), the clinic name is shortened until it fits, down to 12 characters.
 */
export function renderSms(context: MessageContext): string {
  const render = (clinicName: string) => smsCandidates({ ...context, clinicName }).map(toGsm7Friendly);
  const fitting = render(context.clinicName).find(fitsOneSegment);
  if (fitting) return fitting;
  // Shortened by characters, not UTF-16 units, so an emoji is never cut in half.
  const name = [...toGsm7Friendly(context.clinicName)];
  const shortenedTo = (length: number) => name.slice(0, length).join("").trimEnd();
  for (let length = name.length - 1; length >= 12; length -= 1) {
    const shortened = render(shortenedTo(length)).find(fitsOneSegment);
    if (shortened) return shortened;
  }
  const leanest = render(shortenedTo(12)).at(-1);
  if (leanest === undefined) throw new Error(`no SMS template for ${context.kind}`);
  // Whatever the input, never more than two segments: the lean texts carry nothing unbounded, and
  // this last resort carries nothing at all but the shortened clinic name.
  return segmentCount(leanest) <= 2 ? leanest : `${shortenedTo(12)}: there is an update on your order.`;
}

/** The email: subject, plain text and HTML with the same content. */
export function renderEmail(context: MessageContext): EmailMessage {
  const shipment = shipmentOf(context.carrier, context.trackingNumber);
  const link =
    context.kind === "order_shipped" || context.kind === "order_tracking_updated" ? shipment.trackingUrl : null;
  const { subject, lines } = emailContent(context, shipment, link);
  const footer = [contactLine(context), `${context.clinicName}`];
  const text = ["Hello,", "", ...lines, "", ...footer].join("\n");
  const paragraphs = lines.map((line) => {
    if (!link || !line.includes(link)) return markup`<p>${line}</p>`;
    const [before, after] = [line.slice(0, line.indexOf(link)), line.slice(line.indexOf(link) + link.length)];
    return markup`<p>${before}<a href="${link}">${link}</a>${after}</p>`;
  });
  const footerLines = footer.map((line) => markup`${line}`).join("<br>");
  const html = `<!doctype html><html><body><p>Hello,</p>${paragraphs.join("")}<p>${footerLines}</p></body></html>`;
  return { subject, text, html };
}

function emailContent(
  context: MessageContext,
  shipment: Shipment,
  link: string | null,
): { subject: string; lines: string[] } {
  const clinic = context.clinicName;
  const deliveryDate = deliveryDateOf(context.estimatedDelivery);
  switch (context.kind) {
    case "order_shipped":
      return {
        subject: `${clinic}: your order has shipped`,
        lines: [
          `Your order has shipped${shipment.carrier ? ` with ${shipment.carrier}` : ""}.`,
          ...(shipment.trackingNumber ? [`Tracking number: ${shipment.trackingNumber}`] : []),
          ...(link ? [`Track your package: ${link}`] : []),
          ...(deliveryDate ? [`Estimated delivery: ${deliveryDate}`] : []),
        ],
      };
    case "order_tracking_updated":
      return {
        subject: `${clinic}: your tracking number was updated`,
        lines: [
          `The tracking number for your order was updated${shipment.carrier ? ` (${shipment.carrier})` : ""}.`,
          ...(shipment.trackingNumber ? [`New tracking number: ${shipment.trackingNumber}`] : []),
          ...(link ? [`Track your package: ${link}`] : []),
          ...(deliveryDate ? [`Estimated delivery: ${deliveryDate}`] : []),
        ],
      };
    case "order_delivered":
      return { subject: `${clinic}: your order was delivered`, lines: ["Your order was delivered."] };
    case "order_cancelled":
      return {
        subject: `${clinic}: your order was cancelled`,
        lines: ["Your order was cancelled. We will be in touch about next steps."],
      };
    case "refill_approved":
      return {
        subject: `${clinic}: your refill was approved`,
        lines: ["Your refill request was approved. We will let you know when it ships."],
      };
    case "refill_denied":
      return {
        subject: `${clinic}: about your refill request`,
        lines: ["We could not approve your refill request. Please contact us so we can help."],
      };
    default:
      return {
        subject: `${clinic}: an update on your prescription`,
        lines: ["There is an update on your prescription. Please contact us for details."],
      };
  }
}

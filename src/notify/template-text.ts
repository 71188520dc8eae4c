import type { Locale } from "../channels";

/**
 * The words of every patient message, in English and Spanish: SMS candidates (richest first; every
 * one ends with the opt-out line naming STOP, and Spanish adds BAJA), email subjects and lines, and
 * the replies to HELP, STOP and START. src/notify/templates.ts picks and assembles them. No text names
 * a medication or carries other health details.
 */

/** What an SMS may say, already checked and shaped (src/notify/tracking.ts). */
export interface SmsParts {
  clinic: string;
  phone: string | null;
  carrier: string | null;
  trackingUrl: string | null;
}

/** An SMS's candidates in one language, richest first: every one ends with the opt-out line. */
export function smsCandidates(locale: Locale, kind: string, parts: SmsParts): string[] {
  const text = TEXT[locale];
  const worded: WordedKind = Object.hasOwn(text.sms, kind) ? (kind as WordedKind) : "other";
  const values: Record<string, string> = {
    clinic: parts.clinic,
    via: parts.carrier ? ` ${text.via} ${parts.carrier}` : "",
    "(carrier)": parts.carrier ? ` (${parts.carrier})` : "",
    call: parts.phone ? ` ${text.questions} ${parts.phone}` : "",
    track: parts.trackingUrl ? ` ${text.track} ${parts.trackingUrl}` : "",
    url: parts.trackingUrl ? ` ${parts.trackingUrl}` : "",
    stop: ` ${text.stop}`,
    short: ` ${text.stopShort}`,
  };
  // One pass: a clinic name holding `{stop}` stays as written.
  return text.sms[worded].map((template) =>
    template.replace(/\{(\(carrier\)|[a-z]+)\}/g, (placeholder, name: string) => values[name] ?? placeholder),
  );
}

/** What an email may say. */
export interface EmailParts extends SmsParts {
  trackingNumber: string | null;
  deliveryDate: string | null;
}

/** The kinds with their own words; any other kind reads as `other` (a generic update). */
type WordedKind =
  | "order_shipped"
  | "order_tracking_updated"
  | "order_delivered"
  | "order_cancelled"
  | "refill_approved"
  | "refill_denied"
  | "other";

/** An email's words: the subject after the clinic's name, the first line, and the shipment's labels. */
interface EmailWords {
  subjects: Record<WordedKind, string>;
  /** The first line; a shipment's ends with its carrier and a period, added here. */
  leads: Record<WordedKind, string>;
  withCarrier: string;
  trackingNumber: string;
  newTrackingNumber: string;
  trackLink: string;
  estimatedDelivery: string;
}

interface LocaleText {
  /** The opt-out line of a rich SMS, and of a lean one. */
  stop: string;
  stopShort: string;
  /**
   * Each kind's SMS candidates, richest first. Placeholders: `{clinic}`, `{via}` (` via UPS`),
   * `{(carrier)}` (` (UPS)`), `{call}` (` Questions? +1...`), `{track}` (` Track: https://...`),
   * `{url}` (the link alone), `{stop}` and `{short}` (the opt-out lines); each is empty when its fact is
   * missing and brings its own leading space.
   */
  sms: Record<WordedKind, readonly string[]>;
  /** The word before a carrier, the label before the clinic's phone, and before the tracking link. */
  via: string;
  questions: string;
  track: string;
  /** The last resort: nothing unbounded but the (shortened) clinic name. */
  smsLastResort(clinic: string): string;
  greeting: string;
  contact(phone: string | null): string;
  email: EmailWords;
  help(clinic: string, phone: string | null): string;
  optedOut(clinic: string): string;
  optedIn(clinic: string): string;
}

const EN: LocaleText = {
  stop: "Reply STOP to opt out.",
  stopShort: "STOP to opt out.",
  sms: {
    order_shipped: [
      "{clinic}: your order has shipped{via}.{track}{stop}",
      "{clinic}: order shipped.{track}{stop}",
      "{clinic}: shipped{url}{short}",
    ],
    order_tracking_updated: [
      "{clinic}: the tracking number for your order was updated{(carrier)}.{track}{stop}",
      "{clinic}: tracking updated.{track}{stop}",
      "{clinic}: new tracking{url}{short}",
    ],
    order_delivered: ["{clinic}: your order was delivered.{call}{stop}", "{clinic}: your order was delivered.{stop}"],
    order_cancelled: [
      "{clinic}: your order was cancelled. We will be in touch.{call}{stop}",
      "{clinic}: your order was cancelled.{call}{stop}",
      "{clinic}: your order was cancelled.{stop}",
    ],
    refill_approved: [
      "{clinic}: your refill request was approved. We will text you when it ships.{stop}",
      "{clinic}: your refill request was approved.{stop}",
    ],
    refill_denied: [
      "{clinic}: we could not approve your refill request. Please contact us.{call}{stop}",
      "{clinic}: we could not approve your refill request. Please contact us.{stop}",
    ],
    other: [
      "{clinic}: there is an update on your prescription. Please contact us.{call}{stop}",
      "{clinic}: there is an update on your prescription.{stop}",
    ],
  },
  via: "via",
  questions: "Questions?",
  track: "Track:",
  smsLastResort: (clinic) => `${clinic}: there is an update on your order. STOP to opt out.`,
  greeting: "Hello,",
  contact: (phone) => (phone ? `Questions? Call ${phone}.` : "Questions? Contact your clinic."),
  email: {
    subjects: {
      order_shipped: "your order has shipped",
      order_tracking_updated: "your tracking number was updated",
      order_delivered: "your order was delivered",
      order_cancelled: "your order was cancelled",
      refill_approved: "your refill was approved",
      refill_denied: "about your refill request",
      other: "an update on your prescription",
    },
    leads: {
      order_shipped: "Your order has shipped",
      order_tracking_updated: "The tracking number for your order was updated",
      order_delivered: "Your order was delivered.",
      order_cancelled: "Your order was cancelled. We will be in touch about next steps.",
      refill_approved: "Your refill request was approved. We will let you know when it ships.",
      refill_denied: "We could not approve your refill request. Please contact us so we can help.",
      other: "There is an update on your prescription. Please contact us for details.",
    },
    withCarrier: "with",
    trackingNumber: "Tracking number",
    newTrackingNumber: "New tracking number",
    trackLink: "Track your package",
    estimatedDelivery: "Estimated delivery",
  },
  help: (clinic, phone) =>
    `${clinic}: for help, ${phone ? `call ${phone}` : "contact your clinic"}. Reply STOP to opt out.`,
  optedOut: (clinic) => `${clinic}: you are unsubscribed and will receive no more texts. Reply START to resubscribe.`,
  optedIn: (clinic) => `${clinic}: you are resubscribed to texts about your orders. Reply STOP to opt out.`,
};

const ES: LocaleText = {
  stop: "Responda STOP o BAJA para no recibir más.",
  stopShort: "Para salir: STOP o BAJA.",
  sms: {
    order_shipped: [
      "{clinic}: su pedido fue enviado{via}.{track}{stop}",
      "{clinic}: pedido enviado.{track}{short}",
      "{clinic}: enviado{url}{short}",
    ],
    order_tracking_updated: [
      "{clinic}: se actualizó el número de rastreo de su pedido{(carrier)}.{track}{stop}",
      "{clinic}: rastreo actualizado.{track}{short}",
      "{clinic}: nuevo rastreo{url}{short}",
    ],
    order_delivered: ["{clinic}: su pedido fue entregado.{call}{stop}", "{clinic}: su pedido fue entregado.{short}"],
    order_cancelled: [
      "{clinic}: su pedido fue cancelado. Nos pondremos en contacto.{call}{stop}",
      "{clinic}: su pedido fue cancelado.{call}{short}",
      "{clinic}: su pedido fue cancelado.{short}",
    ],
    refill_approved: [
      "{clinic}: su solicitud de resurtido fue aprobada. Le avisaremos cuando se envíe.{stop}",
      "{clinic}: su resurtido fue aprobado.{short}",
    ],
    refill_denied: [
      "{clinic}: no pudimos aprobar su solicitud de resurtido. Comuníquese con nosotros.{call}{stop}",
      "{clinic}: no pudimos aprobar su resurtido. Llámenos.{short}",
    ],
    other: [
      "{clinic}: hay novedades sobre su receta. Comuníquese con nosotros.{call}{stop}",
      "{clinic}: hay novedades sobre su receta.{short}",
    ],
  },
  via: "por",
  questions: "¿Preguntas?",
  track: "Rastreo:",
  smsLastResort: (clinic) => `${clinic}: hay novedades sobre su pedido. Para salir: STOP o BAJA.`,
  greeting: "Hola:",
  contact: (phone) => (phone ? `¿Preguntas? Llame al ${phone}.` : "¿Preguntas? Comuníquese con su clínica."),
  email: {
    subjects: {
      order_shipped: "su pedido fue enviado",
      order_tracking_updated: "se actualizó su número de rastreo",
      order_delivered: "su pedido fue entregado",
      order_cancelled: "su pedido fue cancelado",
      refill_approved: "su resurtido fue aprobado",
      refill_denied: "sobre su solicitud de resurtido",
      other: "novedades sobre su receta",
    },
    leads: {
      order_shipped: "Su pedido fue enviado",
      order_tracking_updated: "Se actualizó el número de rastreo de su pedido",
      order_delivered: "Su pedido fue entregado.",
      order_cancelled: "Su pedido fue cancelado. Nos pondremos en contacto sobre los próximos pasos.",
      refill_approved: "Su solicitud de resurtido fue aprobada. Le avisaremos cuando se envíe.",
      refill_denied: "No pudimos aprobar su solicitud de resurtido. Comuníquese con nosotros para ayudarle.",
      other: "Hay novedades sobre su receta. Comuníquese con nosotros para más detalles.",
    },
    withCarrier: "con",
    trackingNumber: "Número de rastreo",
    newTrackingNumber: "Nuevo número de rastreo",
    trackLink: "Rastree su paquete",
    estimatedDelivery: "Entrega estimada",
  },
  help: (clinic, phone) =>
    `${clinic}: para ayuda, ${phone ? `llame al ${phone}` : "comuníquese con su clínica"}. Responda STOP o BAJA para no recibir más.`,
  optedOut: (clinic) => `${clinic}: se canceló su suscripción y no recibirá más mensajes. Responda START para volver.`,
  optedIn: (clinic) =>
    `${clinic}: volverá a recibir mensajes sobre sus pedidos. Responda STOP o BAJA para no recibir más.`,
};

/** The words of one language. */
export const TEXT: Record<Locale, LocaleText> = { en: EN, es: ES };

/** An email's subject and lines in one language: the same facts, in the same order, in every language. */
export function emailContent(locale: Locale, kind: string, parts: EmailParts): { subject: string; lines: string[] } {
  const words = TEXT[locale].email;
  const worded: WordedKind = Object.hasOwn(words.subjects, kind) ? (kind as WordedKind) : "other";
  const shipping = worded === "order_shipped" || worded === "order_tracking_updated";
  const numberLabel = worded === "order_shipped" ? words.trackingNumber : words.newTrackingNumber;
  const carrier = !parts.carrier
    ? ""
    : worded === "order_shipped"
      ? ` ${words.withCarrier} ${parts.carrier}`
      : ` (${parts.carrier})`;
  return {
    subject: `${parts.clinic}: ${words.subjects[worded]}`,
    lines: [
      shipping ? `${words.leads[worded]}${carrier}.` : words.leads[worded],
      ...(shipping && parts.trackingNumber ? [`${numberLabel}: ${parts.trackingNumber}`] : []),
      ...(shipping && parts.trackingUrl ? [`${words.trackLink}: ${parts.trackingUrl}`] : []),
      ...(shipping && parts.deliveryDate ? [`${words.estimatedDelivery}: ${parts.deliveryDate}`] : []),
    ],
  };
}

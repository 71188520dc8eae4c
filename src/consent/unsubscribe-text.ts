/**
 * The unsubscribe page's words, one entry per locale (the patient's language). Plain strings: the
 * page escapes them, and none names the patient, the address or anything medical.
 */
export type PageLocale = "en" | "es";

export interface UnsubscribeText {
  title: string;
  question: string;
  button: string;
  done: string;
  gone: string;
}

export const UNSUBSCRIBE_TEXT: Readonly<Record<PageLocale, UnsubscribeText>> = {
  en: {
    title: "Unsubscribe",
    question: "Stop emails about your orders and refills from this clinic?",
    button: "Unsubscribe",
    done: "You are unsubscribed. You will get no more emails about your orders from this clinic.",
    gone: "This link no longer works.",
  },
  es: {
    title: "Cancelar suscripción",
    question: "¿Dejar de recibir correos de esta clínica sobre sus pedidos y resurtidos?",
    button: "Cancelar suscripción",
    done: "Su suscripción fue cancelada. No recibirá más correos de esta clínica sobre sus pedidos.",
    gone: "Este enlace ya no funciona.",
  },
};

/**
 * The language of a patient's page: the directory entry's `locale` when it is one we have (the
 * column arrives with the Spanish templates), else English. The one place that decides it.
 */
export function pageLocaleOf(patient: object | null): PageLocale {
  const locale = patient && "locale" in patient ? patient.locale : null;
  return locale === "es" ? "es" : "en";
}

import type { Locale } from "../channels";

/**
 * What a patient's inbound text asks for. Twilio's keywords count when they are the whole reply
 * (`STOP`, `stop.`); besides them, a reply that plainly revokes consent opts out (FCC 2024: revocation
 * by any reasonable means), matched case- and accent-insensitively anywhere, as whole words, in a
 * short reply ("Please stop texting me", "No me envíen más, gracias"). docs/notifications.md lists
 * both lists; a test covers every entry.
 */

/** Carrier-standard opt-out and opt-in keywords (Twilio's defaults), and HELP. */
export const OPT_OUT_KEYWORDS = new Set([
  "STOP",
  "STOPALL",
  "UNSUBSCRIBE",
  "CANCEL",
  "END",
  "QUIT",
  "REVOKE",
  "OPTOUT",
]);
export const OPT_IN_KEYWORDS = new Set(["START", "UNSTOP", "YES"]);
export const HELP_KEYWORDS = new Set(["HELP", "INFO"]);

/**
 * Plain-words revocations, as normalised text (lower case, no accents, apostrophes dropped, other
 * punctuation a space), with the language they are in (the confirmation is written in it when the
 * patient's own language is not known).
 */
export const REVOCATION_PHRASES: readonly { phrase: string; locale: Locale }[] = [
  ...[
    "stop texting",
    "stop sending",
    "stop messaging",
    "stop the texts",
    "please stop",
    "stop please",
    "unsubscribe me",
    "no more texts",
    "no more messages",
    "dont text me",
    "do not text me",
    "dont message me",
    "opt me out",
    "remove me from",
  ].map((phrase) => ({ phrase, locale: "en" as const })),
  ...[
    "alto",
    "parar",
    "para ya",
    "baja",
    "cancelar",
    "no me envien mas",
    "no me manden mas",
    "no mas mensajes",
    "ya no quiero mensajes",
    "dejen de enviar",
  ].map((phrase) => ({ phrase, locale: "es" as const })),
];

/** A reply longer than one SMS is a message for a person, not a revocation matched by words. */
export const SHORT_REPLY_MAX_CHARACTERS = 160;

/** Lower case, accents removed, apostrophes dropped, every other non-letter a single space. */
export function normaliseReply(body: string): string {
  return body
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/['’‘`´]/g, "")
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
}

export type InboundIntent =
  | { kind: "opt_out"; keyword: string; locale: Locale | null }
  | { kind: "opt_in"; keyword: string }
  | { kind: "help"; keyword: string }
  | { kind: "other" };

/**
 * What an inbound text asks for: a Twilio keyword as the whole reply (STOP family, START family,
 * HELP/INFO), or a plain-words revocation anywhere in a short reply (opt-out, `keyword` "revoked");
 * anything else is a reply for a person.
 */
export function inboundIntent(body: string): InboundIntent {
  const keyword = body
    .trim()
    .toUpperCase()
    .replace(/[^A-Z]/g, "");
  if (OPT_OUT_KEYWORDS.has(keyword)) return { kind: "opt_out", keyword, locale: null };
  if (OPT_IN_KEYWORDS.has(keyword)) return { kind: "opt_in", keyword };
  if (HELP_KEYWORDS.has(keyword)) return { kind: "help", keyword };
  if (body.length > SHORT_REPLY_MAX_CHARACTERS) return { kind: "other" };
  const words = ` ${normaliseReply(body)} `;
  const revocation = REVOCATION_PHRASES.find(({ phrase }) => words.includes(` ${phrase} `));
  return revocation ? { kind: "opt_out", keyword: "revoked", locale: revocation.locale } : { kind: "other" };
}

import { html } from "hono/html";

/**
 * HTML (and XML) with every interpolated value escaped by Hono's `html` helper: the one escaper for
 * the email body and TwiML. Only strings, numbers and markup built here are interpolated, so the
 * helper answers synchronously; a Promise would mean a caller passed one, which is a bug.
 */
export function markup(strings: TemplateStringsArray, ...values: unknown[]): string {
  const rendered = html(strings, ...values);
  if (rendered instanceof Promise) throw new TypeError("markup() takes no asynchronous values");
  return rendered.toString();
}

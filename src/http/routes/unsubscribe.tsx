import { type Context, Hono } from "hono";
import { readConsentSettings } from "../../config/consent";
import { unsubscribePatient } from "../../consent/patient-consent";
import { unsubscribePath } from "../../consent/unsubscribe-links";
import { type PageLocale, pageLocaleOf, UNSUBSCRIBE_TEXT } from "../../consent/unsubscribe-text";
import { type UnsubscribeClaim, verifyUnsubscribeToken } from "../../consent/unsubscribe-token";
import { getPatient } from "../../db/patients";
import { log } from "../../log";
import { directoryOf } from "../../tenancy/clinics";
import { ApiError } from "../errors";
import { bodyCap } from "../middleware/body-cap";
import type { App } from "../types";

/**
 * `/u/:token`: RFC 8058 one-click unsubscribe. `POST` with the body `List-Unsubscribe=One-Click` (what
 * a mailbox provider sends, and what the page's button posts) turns the patient's email consent off
 * (reason `unsubscribed`) and answers 200; it is idempotent and needs no login and sets no cookie,
 * the token being the proof. `GET` only shows the page with that button, so a link scanner that
 * follows links changes nothing. A token that does not verify (forged, altered, another deployment's)
 * is 404 like an unknown path.
 */
/** The one-click form body (`List-Unsubscribe=One-Click`) is 26 bytes; anything past 1 KiB is refused unread. */
export const UNSUBSCRIBE_MAX_BODY_BYTES = 1024;

export const unsubscribe = new Hono<App>();
unsubscribe.use(bodyCap(UNSUBSCRIBE_MAX_BODY_BYTES, "The body is larger than 1 KiB."));

/** The body RFC 8058 requires of a one-click unsubscribe. */
const ONE_CLICK = { field: "List-Unsubscribe", value: "One-Click" } as const;

function Page({ locale, message, token }: { locale: PageLocale; message: string; token?: string }) {
  const text = UNSUBSCRIBE_TEXT[locale];
  return (
    <html lang={locale}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{text.title}</title>
      </head>
      <body>
        <main>
          <h1>{text.title}</h1>
          <p>{message}</p>
          {token && (
            <form method="post" action={unsubscribePath(token)}>
              <input type="hidden" name={ONE_CLICK.field} value={ONE_CLICK.value} />
              <button type="submit">{text.button}</button>
            </form>
          )}
        </main>
      </body>
    </html>
  );
}

/** The token's claim and its clinic's directory, or 404 (an email token of an allowed clinic only). */
async function claimOf(c: Context<App>) {
  const token = c.req.param("token") ?? "";
  const claim: UnsubscribeClaim | null = await verifyUnsubscribeToken(
    readConsentSettings(c.env).unsubscribeSecrets,
    token,
  );
  const directory = claim?.channel === "email" ? directoryOf(c.env, claim.clinicId) : null;
  if (!claim || !directory) throw new ApiError(404, "not_found", "No route matches this path.");
  return { token, claim, directory };
}

unsubscribe.get("/:token", async (c) => {
  const { token, claim, directory } = await claimOf(c);
  const locale = pageLocaleOf(await getPatient(c.env.DB, directory, claim.patientId));
  c.header("Cache-Control", "no-store");
  return c.html(<Page locale={locale} message={UNSUBSCRIBE_TEXT[locale].question} token={token} />);
});

unsubscribe.post("/:token", async (c) => {
  const { claim, directory } = await claimOf(c);
  const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  if (form[ONE_CLICK.field] !== ONE_CLICK.value)
    throw new ApiError(400, "invalid_request", "The body must be List-Unsubscribe=One-Click.");
  const patient = await getPatient(c.env.DB, directory, claim.patientId);
  const stopped = await unsubscribePatient(c.env.DB, directory.clinicId, patient, claim, new Date().toISOString());
  log.info("email unsubscribe", { request_id: c.get("requestId"), clinic_id: directory.clinicId, recorded: stopped });
  const locale = pageLocaleOf(patient);
  c.header("Cache-Control", "no-store");
  return c.html(<Page locale={locale} message={UNSUBSCRIBE_TEXT[locale].done} />);
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { pageLocaleOf, UNSUBSCRIBE_TEXT } from "../../src/consent/unsubscribe-text";
import { unsubscribeToken, verifyUnsubscribeToken } from "../../src/consent/unsubscribe-token";
import worker from "../../src/index";
import { adminJson } from "../helpers/admin";
import { setClock, TEST_NOW } from "../helpers/clock";
import { CLINIC_ID } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { nextEmail, resendEnv, sentEmail } from "../helpers/resend";

const server = useMockNetwork();

/** The one-click link an email carried, and its token. */
function linkOf(headers: Record<string, string> | undefined) {
  const link = /^<(https:\/\/receiver\.test\/u\/([A-Za-z0-9_-]+))>$/.exec(headers?.["List-Unsubscribe"] ?? "");
  if (!link) throw new Error("no List-Unsubscribe link");
  return { url: link[1]!, token: link[2]! };
}

const oneClick = (url: string, body = "List-Unsubscribe=One-Click") =>
  worker.fetch(
    new Request(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body }),
    resendEnv(),
  );

async function emailConsent(patientId: string) {
  return (await adminJson<Record<string, unknown>>(`/patients/${patientId}`)).body;
}

describe("one-click unsubscribe (RFC 8058)", () => {
  it("every email carries List-Unsubscribe (HTTPS, a token of [A-Za-z0-9_-] without PHI) and List-Unsubscribe-Post", async () => {
    const { providers, patientId, address, event } = await sentEmail(server);
    const sent = providers.emails[0]!.body as { headers?: Record<string, string> };
    expect(sent.headers?.["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const { token } = linkOf(sent.headers);
    const payload = atob(token.slice(0, -22).replaceAll("-", "+").replaceAll("_", "/"));
    expect(payload).toBe(`${CLINIC_ID}\n${patientId}\nemail`);
    expect(token).not.toContain(address);
    // Staff see the headers in the notification's rendered message.
    const row = await env.DB.prepare(
      `SELECT notification_id FROM notifications WHERE event_id = ?1 AND channel = 'email'`,
    )
      .bind(event.event_id)
      .first<{ notification_id: string }>();
    const view = await adminJson<{ rendered: { headers?: Record<string, string> } }>(
      `/notifications/${row!.notification_id}`,
    );
    expect(view.body.rendered.headers).toEqual(sent.headers);
  });

  it("GET shows a confirmation page whose button posts, and changes nothing", async () => {
    const { providers, patientId } = await sentEmail(server);
    const { url, token } = linkOf((providers.emails[0]!.body as { headers?: Record<string, string> }).headers);
    const page = await worker.fetch(new Request(url), resendEnv());
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`<form method="post" action="/u/${token}">`);
    expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
    expect(html).toContain(UNSUBSCRIBE_TEXT.en.question);
    expect(await emailConsent(patientId)).toMatchObject({ email_opt_in: true, email_opt_out_reason: null });
  });

  it("POST with the one-click body turns email consent off (unsubscribed): 200, no cookie, idempotent; no more email", async () => {
    const { providers, patientId } = await sentEmail(server);
    const { url } = linkOf((providers.emails[0]!.body as { headers?: Record<string, string> }).headers);
    const first = await oneClick(url);
    expect(first.status).toBe(200);
    expect(first.headers.get("set-cookie")).toBeNull();
    expect(await first.text()).toContain(UNSUBSCRIBE_TEXT.en.done);
    expect(await emailConsent(patientId)).toMatchObject({ email_opt_in: false, email_opt_out_reason: "unsubscribed" });
    setClock(TEST_NOW + 60_000);
    expect((await oneClick(url)).status).toBe(200);
    const stored = await env.DB.prepare(`SELECT opted_out_at FROM contact_opt_outs WHERE patient_id = ?1`)
      .bind(patientId)
      .all<{ opted_out_at: string }>();
    expect(stored.results).toEqual([{ opted_out_at: new Date(TEST_NOW).toISOString() }]);
    expect(await nextEmail(server, patientId)).toMatchObject({ status: "suppressed", error: "email_unsubscribed" });
  });

  it("a forged or altered token is 404; a POST without the one-click body is refused and changes nothing", async () => {
    const { providers, patientId } = await sentEmail(server);
    const { url, token } = linkOf((providers.emails[0]!.body as { headers?: Record<string, string> }).headers);
    const altered = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    const forged = await unsubscribeToken(["not-this-deployment's-secret-0123456789"], {
      clinicId: CLINIC_ID,
      patientId,
      channel: "email",
    });
    for (const bad of [altered, forged!, "short", "has.dots.in.it.that.are.not.allowed.at.all"]) {
      expect((await oneClick(`https://receiver.test/u/${bad}`)).status).toBe(404);
      expect((await worker.fetch(new Request(`https://receiver.test/u/${bad}`), resendEnv())).status).toBe(404);
    }
    expect((await oneClick(url, "something=else")).status).toBe(400);
    expect(await emailConsent(patientId)).toMatchObject({ email_opt_in: true });
  });

  it("a token verifies with any configured secret (rotation) and carries exactly its claim", async () => {
    const claim = { clinicId: CLINIC_ID, patientId: "pat_1", channel: "email" as const };
    const token = await unsubscribeToken(["old-secret-0123456789abcdef0123"], claim);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(
      await verifyUnsubscribeToken(["new-secret-0123456789abcdef0123", "old-secret-0123456789abcdef0123"], token!),
    ).toEqual(claim);
    expect(await verifyUnsubscribeToken(["new-secret-0123456789abcdef0123"], token!)).toBeNull();
  });

  it("the page speaks the patient's language: Spanish for locale es, English otherwise, with the same strings in both", () => {
    expect(pageLocaleOf({ locale: "es" })).toBe("es");
    expect(pageLocaleOf({ locale: "fr" })).toBe("en");
    expect(pageLocaleOf({})).toBe("en");
    expect(pageLocaleOf(null)).toBe("en");
    expect(Object.keys(UNSUBSCRIBE_TEXT.es).sort()).toEqual(Object.keys(UNSUBSCRIBE_TEXT.en).sort());
    expect(UNSUBSCRIBE_TEXT.es.button).not.toBe(UNSUBSCRIBE_TEXT.en.button);
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getInboundReply } from "../../src/db/inbound-replies";
import { inboundIntent, REVOCATION_PHRASES } from "../../src/notify/inbound-words";
import { adminJson } from "../helpers/admin";
import { CLINIC_A, CLINIC_B, putClinicProfile, twoClinicEnv } from "../helpers/clinics";
import { wrapDatabase } from "../helpers/d1";
import { uniqueId } from "../helpers/events";
import { createPatient, PROVIDER_ENV, postTwilio, providerEnv } from "../helpers/notifications";

const inbound = (from: string, body: string, to: string = PROVIDER_ENV.CLINIC_PHONE) => ({
  MessageSid: `SM${uniqueId("x")}`,
  AccountSid: PROVIDER_ENV.TWILIO_ACCOUNT_SID,
  From: from,
  To: to,
  Body: body,
  NumMedia: "0",
});

let nextPhone = 1000;
/** A phone number no other test of this file uses. */
function freshPhone(): string {
  nextPhone += 1;
  return `+1415666${String(nextPhone).padStart(4, "0")}`;
}

async function optOutSource(phone: string): Promise<string | null> {
  const row = await env.DB.prepare(`SELECT source FROM sms_opt_outs WHERE phone = ?1`)
    .bind(phone)
    .first<{ source: string }>();
  return row?.source ?? null;
}

/** The TwiML reply's messages. */
const messagesOf = (twiml: string) => [...twiml.matchAll(/<Message>(.*?)<\/Message>/g)].map((match) => match[1]);

describe("plain-words revocation (FCC 2024) takes the STOP path", () => {
  it.each([
    ["Please stop texting me", "en"],
    ["STOP TEXTING ME!!", "en"],
    ["unsubscribe me", "en"],
    ["No more texts, thanks", "en"],
    ["Don't text me", "en"],
    ["don’t text me again", "en"],
    ["please stop", "en"],
    ["ALTO", "es"],
    ["Parar", "es"],
    ["baja por favor", "es"],
    ["Cancelar", "es"],
    ["No me envíen más", "es"],
    ["no me envien mas mensajes", "es"],
  ])("%j opts the number out, with one confirmation in its language", async (body, language) => {
    const phone = freshPhone();
    const twiml = await (await postTwilio("inbound", inbound(phone, body))).text();
    expect(await optOutSource(phone)).toBe("revoked");
    const messages = messagesOf(twiml);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(language === "es" ? "no recibirá más mensajes" : "you are unsubscribed");
  });

  it("every documented phrase matches anywhere, whatever the case and accents; Twilio's keywords stay whole-reply", () => {
    for (const { phrase } of REVOCATION_PHRASES) {
      expect(inboundIntent(`Hola, ${phrase.toUpperCase()} gracias`)).toMatchObject({
        kind: "opt_out",
        keyword: "revoked",
      });
    }
    expect(inboundIntent("stop.")).toMatchObject({ kind: "opt_out", keyword: "STOP" });
    expect(inboundIntent("Start")).toMatchObject({ kind: "opt_in" });
    expect(inboundIntent("info")).toMatchObject({ kind: "help" });
    for (const reply of ["when does it arrive?", "I stopped by yesterday", "¿Cuándo llega?", "ok thanks"])
      expect(inboundIntent(reply)).toEqual({ kind: "other" });
    // A long message is for a person, even if it says "please stop" somewhere.
    expect(
      inboundIntent(`${"My order has not arrived and I have been waiting all week. ".repeat(3)}please stop`),
    ).toEqual({ kind: "other" });
  });

  it("STOP records `keyword`; the patient's locale (the directory's) chooses the reply language", async () => {
    const phone = freshPhone();
    await createPatient({ phone, locale: "es" });
    const stop = messagesOf(await (await postTwilio("inbound", inbound(phone, "STOP"))).text());
    expect(await optOutSource(phone)).toBe("keyword");
    expect(stop).toEqual([
      "Sunrise Clinic: se canceló su suscripción y no recibirá más mensajes. Responda START para volver.",
    ]);
    const start = messagesOf(await (await postTwilio("inbound", inbound(phone, "START"))).text());
    expect(start[0]).toContain("volverá a recibir mensajes");
    expect(await optOutSource(phone)).toBeNull();
    const help = messagesOf(await (await postTwilio("inbound", inbound(phone, "HELP"))).text());
    expect(help).toEqual([
      `Sunrise Clinic: para ayuda, llame al ${PROVIDER_ENV.CLINIC_PHONE}. Responda STOP o BAJA para no recibir más.`,
    ]);
  });

  it("replies speak for the clinic whose number received the text, in that clinic's default language", async () => {
    const workerEnv = twoClinicEnv();
    await putClinicProfile(workerEnv, CLINIC_B, {
      name: "Clínica Beta",
      phone: "+14155550112",
      sms_from: "+14155550199",
      default_locale: "es",
    });
    const help = await postTwilio("inbound", inbound(freshPhone(), "help", "+14155550199"), undefined, workerEnv);
    expect(messagesOf(await help.text())).toEqual([
      "Clínica Beta: para ayuda, llame al +14155550112. Responda STOP o BAJA para no recibir más.",
    ]);
    const phone = freshPhone();
    await postTwilio("inbound", inbound(phone, "please stop texting me", "+14155550199"), undefined, workerEnv);
    const perSender = await env.DB.prepare(`SELECT sender, source FROM sms_sender_opt_outs WHERE phone = ?1`)
      .bind(phone)
      .first();
    expect(perSender).toEqual({ sender: "+14155550199", source: "revoked" });
  });
});

describe("any other reply is for a person", () => {
  it("opens a `patient_replied` alert without the text; an operator reads the text (audited)", async () => {
    const phone = freshPhone();
    const body = "Hi, my package says delivered but it is not here";
    const twiml = await (await postTwilio("inbound", inbound(phone, body))).text();
    expect(messagesOf(twiml)).toEqual([]);
    expect(await optOutSource(phone)).toBeNull();
    const { body: alerts } = await adminJson<{ alerts: Record<string, unknown>[] }>("/alerts?rule=patient_replied");
    const alert = alerts.alerts.find((item) => String(item.target_id).startsWith("rpl_") && item.state === "open");
    expect(alert).toMatchObject({ rule: "patient_replied", target_type: "inbound_reply" });
    expect(JSON.stringify(alerts)).not.toContain("delivered but");
    expect(JSON.stringify(alerts)).not.toContain(phone);

    const replyId = String(alert!.target_id);
    const read = await adminJson<Record<string, unknown>>(`/inbound-replies/${replyId}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ reply_id: replyId, phone, body });
    const audit = await env.DB.prepare(
      `SELECT action FROM audit WHERE target_type = 'inbound_reply' AND target_id = ?1`,
    )
      .bind(replyId)
      .first<{ action: string }>();
    expect(audit).toEqual({ action: "inbound_reply.read" });
    // One clinic configured (no sender set): the reply is its own, so its operators read it.
    expect(await getInboundReply(env.DB, { role: "operator", clinics: [CLINIC_A] }, replyId)).toMatchObject({
      clinic_id: CLINIC_A,
    });
    expect((await adminJson(`/inbound-replies/rpl_unknown`)).status).toBe(404);
  });

  it("with several clinics, a reply to a number none of them sends from is only for identities of every clinic", async () => {
    const workerEnv = twoClinicEnv();
    await postTwilio("inbound", inbound(freshPhone(), "who is this?", "+14155550777"), undefined, workerEnv);
    const row = await env.DB.prepare(
      `SELECT reply_id, clinic_id FROM inbound_replies WHERE body = 'who is this?' ORDER BY received_at DESC LIMIT 1`,
    ).first<{ reply_id: string; clinic_id: string | null }>();
    expect(row?.clinic_id ?? null).toBeNull();
    expect(await getInboundReply(env.DB, { role: "operator", clinics: [CLINIC_A] }, row?.reply_id ?? "")).toBeNull();
    expect(await getInboundReply(env.DB, { role: "operator", clinics: "all" }, row?.reply_id ?? "")).not.toBeNull();
  });
});

describe("a STOP is never lost to the reply's language", () => {
  it("records the opt-out even when the directory read for the patient's language fails, and replies in the clinic's", async () => {
    const phone = freshPhone();
    const failingLocale = wrapDatabase(env.DB, {
      prepare: (sql, prepare) => {
        if (sql.includes("SELECT locale FROM patients")) throw new Error("D1_ERROR: the directory read failed");
        return prepare(sql);
      },
    });
    const response = await postTwilio("inbound", inbound(phone, "STOP"), undefined, {
      ...providerEnv(),
      DB: failingLocale,
    });
    expect(response.status).toBe(200);
    expect(await optOutSource(phone)).toBe("keyword");
    expect(messagesOf(await response.text())).toHaveLength(1);
  });
});

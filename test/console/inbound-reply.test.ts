import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { recordInboundReply } from "../../src/db/inbound-replies";
import { twoClinicsBehindAccess } from "../helpers/access";
import { auditRowsOf } from "../helpers/audit";
import { createClinicPatient } from "../helpers/clinics";
import { uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { useStaffAccess } from "../helpers/staff-access";

const staff = useStaffAccess(useMockNetwork());

let nextPhone = 2000;
/** A phone number no other test of this file uses. */
function freshPhone(): string {
  nextPhone += 1;
  return `+1415777${String(nextPhone).padStart(4, "0")}`;
}

/** A patient's reply to `clinicId` and its `patient_replied` alert, written as the Twilio webhook writes them. */
async function replyOf(clinicId: string | null, phone: string, body: string): Promise<string> {
  const replyId = uniqueId("rpl");
  await env.DB.batch(
    recordInboundReply(env.DB, {
      reply_id: replyId,
      clinic_id: clinicId,
      phone,
      body,
      received_at: "2026-03-02T15:04:05.000Z",
    }),
  );
  return replyId;
}

/** The console as a new staff member of `role` for `clinics`, and its identity. */
async function consoleOf(clinics: { workerEnv: Env; adminEnv: Env }, role: string, of: string[] | "all") {
  const identity = await staff.member(clinics.adminEnv, role, of);
  return { identity, open: await staff.console(clinics.workerEnv, identity) };
}

const readRows = async (replyId: string) =>
  (await auditRowsOf("inbound_reply", replyId)).map(({ actor, action, clinic_id, role, outcome }) => ({
    actor,
    action,
    clinic_id,
    role,
    outcome,
  }));

describe("console: a patient's reply (the target of a patient_replied alert)", () => {
  it.each(["operator", "admin"])(
    "an %s of the clinic follows the alert to the text, the time, the clinic and the patient; each view audited as the API's read",
    async (role) => {
      const clinics = twoClinicsBehindAccess();
      const phone = freshPhone();
      const patientId = await createClinicPatient(clinics.adminEnv, clinics.a, { phone });
      const body = "Hi, my package says delivered\nbut it is not here";
      const replyId = await replyOf(clinics.a, phone, body);
      const { identity, open } = await consoleOf(clinics, role, [clinics.a]);

      const alerts = await (await open("/console/alerts?rule=patient_replied")).text();
      expect(alerts).toContain(`href="/console/inbound-replies/${replyId}"`);
      expect(alerts).not.toContain("delivered");
      expect(alerts).not.toContain(phone);

      const page = await open(`/console/inbound-replies/${replyId}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain(`<blockquote class="reply-text" id="reply-text">${body}</blockquote>`);
      expect(html).toContain(`datetime="2026-03-02T15:04:05.000Z"`);
      expect(html).toContain(clinics.a);
      expect(html).toContain(`href="/console/patients/${patientId}?clinic=${clinics.a}"`);
      expect(await readRows(replyId)).toEqual([
        { actor: identity, action: "inbound_reply.read", clinic_id: clinics.a, role, outcome: "success" },
      ]);

      // The admin API's read of the same reply writes the same row.
      expect((await staff.as(clinics.workerEnv, identity, `/inbound-replies/${replyId}`)).status).toBe(200);
      const [consoleRow, apiRow] = await readRows(replyId);
      expect(apiRow).toEqual(consoleRow);
    },
  );

  it("says when no patient of the clinic has the phone", async () => {
    const clinics = twoClinicsBehindAccess();
    // The same phone in clinic B's directory is not clinic A's patient.
    const phone = freshPhone();
    await createClinicPatient(clinics.adminEnv, clinics.b, { phone });
    const replyId = await replyOf(clinics.a, phone, "who is this?");
    const { open } = await consoleOf(clinics, "operator", [clinics.a]);
    const html = await (await open(`/console/inbound-replies/${replyId}`)).text();
    expect(html).toContain("no patient of this clinic has this phone");
    expect(html).not.toContain("/console/patients/");
  });

  it("a viewer sees the alert without a link, and the page answers 403 whether the reply exists or not, unaudited", async () => {
    const clinics = twoClinicsBehindAccess();
    const replyId = await replyOf(clinics.a, freshPhone(), "please call me back about my refill");
    const { open } = await consoleOf(clinics, "viewer", [clinics.a]);

    const alerts = await (await open("/console/alerts?rule=patient_replied")).text();
    expect(alerts).toContain(replyId);
    expect(alerts).not.toContain("/console/inbound-replies/");

    const page = await open(`/console/inbound-replies/${replyId}`);
    const unknown = await open(`/console/inbound-replies/${uniqueId("rpl")}`);
    expect([page.status, unknown.status]).toEqual([403, 403]);
    const [shown, unknownShown] = [await page.text(), await unknown.text()];
    expect(shown).toBe(unknownShown);
    expect(shown).not.toContain("refill");
    expect(await readRows(replyId)).toEqual([]);
  });

  it("a user of clinic B gets not found for clinic A's reply, as for an unknown id", async () => {
    const clinics = twoClinicsBehindAccess();
    const replyId = await replyOf(clinics.a, freshPhone(), "is my order from clinic A on its way?");
    const { identity, open } = await consoleOf(clinics, "admin", [clinics.b]);

    const page = await open(`/console/inbound-replies/${replyId}`);
    expect(page.status).toBe(404);
    const html = await page.text();
    expect(html).not.toContain("clinic A on its way");
    expect(html).not.toContain(clinics.a);
    const unknown = await open(`/console/inbound-replies/${uniqueId("rpl")}`);
    expect(unknown.status).toBe(404);
    expect(html).toBe(await unknown.text());
    expect(await readRows(replyId)).toEqual([
      { actor: identity, action: "inbound_reply.read", clinic_id: null, role: "admin", outcome: "not_found" },
    ]);
  });

  it("a reply that reached no single clinic is for identities of every clinic, with the phone's patients of any clinic", async () => {
    const clinics = twoClinicsBehindAccess();
    const phone = freshPhone();
    const patientId = await createClinicPatient(clinics.adminEnv, clinics.b, { phone });
    const replyId = await replyOf(null, phone, "which pharmacy is this?");
    const everyClinic = await consoleOf(clinics, "operator", "all");
    const html = await (await everyClinic.open(`/console/inbound-replies/${replyId}`)).text();
    expect(html).toContain("which pharmacy is this?");
    expect(html).toContain("no single clinic");
    expect(html).toContain(`href="/console/patients/${patientId}?clinic=${clinics.b}"`);
    const clinicA = await consoleOf(clinics, "operator", [clinics.a]);
    expect((await clinicA.open(`/console/inbound-replies/${replyId}`)).status).toBe(404);
  });

  it("shows the patient's text as text: markup in it is escaped", async () => {
    const clinics = twoClinicsBehindAccess();
    const body = `<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"`;
    const replyId = await replyOf(clinics.a, freshPhone(), body);
    const { open } = await consoleOf(clinics, "operator", [clinics.a]);
    const html = await (await open(`/console/inbound-replies/${replyId}`)).text();
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain(
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;",
    );
  });
});

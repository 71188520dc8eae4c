import { describe, expect, it } from "vitest";
import { adminFetch, adminJson } from "../helpers/admin";
import {
  adminFetchWith,
  CLINIC_A,
  CLINIC_B,
  createClinicPatient,
  putClinicProfile,
  twoClinicEnv,
} from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { applyAndCaptureJobs, mockProviders, runSender } from "../helpers/notifications";

const server = useMockNetwork();

const patient = {
  phone: "+14155550123",
  email: "pat@example.org",
  timezone: null,
  sms_opt_in: true,
  email_opt_in: true,
};

describe("the patient directory takes a locale", () => {
  it("PUT and GET carry `locale` (en | es); omitted means the clinic's default (null); another is refused", async () => {
    const id = uniqueId("pat");
    const headers = { "content-type": "application/json" };
    const put = (body: unknown) => adminJson(`/patients/${id}`, { method: "PUT", headers, body: JSON.stringify(body) });
    expect((await put({ ...patient, locale: "es" })).body).toMatchObject({ locale: "es" });
    expect((await adminJson(`/patients/${id}`)).body).toMatchObject({ locale: "es" });
    expect((await put(patient)).body).toMatchObject({ locale: null });
    const refused = await put({ ...patient, locale: "fr" });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('"path":"locale"');
  });

  it("the CSV import reads a locale column (any case; empty means the clinic's default)", async () => {
    const [spanish, unset] = [uniqueId("pat"), uniqueId("pat")];
    const csv = [
      "patient_id,phone,email,timezone,sms_opt_in,email_opt_in,locale",
      `${spanish},+14155550124,,,yes,no,ES`,
      `${unset},+14155550125,,,yes,no,`,
    ].join("\n");
    const response = await adminFetch("/patients/import", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: csv,
    });
    expect(await response.json()).toMatchObject({ imported: 2, failed: 0 });
    expect((await adminJson(`/patients/${spanish}`)).body).toMatchObject({ locale: "es" });
    expect((await adminJson(`/patients/${unset}`)).body).toMatchObject({ locale: null });
  });
});

describe("messages in the patient's language", () => {
  it("a patient's locale, else the clinic's default_locale; GET /admin/notifications/:id shows it", async () => {
    const providers = mockProviders(server);
    const workerEnv = twoClinicEnv();
    await putClinicProfile(workerEnv, CLINIC_B, { default_locale: "es" });
    const spanishInA = await createClinicPatient(workerEnv, CLINIC_A, { locale: "es", phone: "+14155550131" });
    const defaultInB = await createClinicPatient(workerEnv, CLINIC_B, { phone: "+14155550132" });
    const englishInB = await createClinicPatient(workerEnv, CLINIC_B, { locale: "en", phone: "+14155550133" });
    const events = [
      [CLINIC_A, spanishInA],
      [CLINIC_B, defaultInB],
      [CLINIC_B, englishInB],
    ].map(([clinicId, patientId]) =>
      makeEvent("order:delivered", { clinic_id: clinicId, data: { order_id: uniqueId("ord"), patient_id: patientId } }),
    );
    await runSender(await applyAndCaptureJobs(events), { workerEnv });
    const smsTo = (phone: string) => providers.sms.find((sms) => sms.to === phone)?.body;
    expect(smsTo("+14155550131")).toMatch(/: su pedido fue entregado\..*STOP o BAJA/);
    expect(smsTo("+14155550132")).toMatch(/: su pedido fue entregado\./);
    expect(smsTo("+14155550133")).toMatch(/: your order was delivered\..*Reply STOP to opt out\.$/);
    const spanishEmail = providers.emails.find((email) => email.body.to.includes(`${spanishInA}@example.org`));
    expect(spanishEmail?.body.subject).toMatch(/: su pedido fue entregado$/);
    expect(spanishEmail?.body.html).toContain('<html lang="es">');

    const locales = [];
    for (const event of events) {
      const detail = await adminFetchWith(workerEnv, `/events/${event.event_id}`);
      const { notifications } = (await detail.json()) as { notifications: { notification_id: string }[] };
      for (const { notification_id } of notifications) {
        const view = await adminFetchWith(workerEnv, `/notifications/${notification_id}`);
        locales.push(((await view.json()) as { locale: string }).locale);
      }
    }
    expect(locales).toEqual(["es", "es", "es", "es", "en", "en"]);
  });
});

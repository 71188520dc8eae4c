import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deliverAlerts } from "../../src/watch/alert-delivery";
import { putClinicProfile, twoClinicEnv } from "../helpers/clinics";
import { uniqueId } from "../helpers/events";
import { useMockNetwork } from "../helpers/msw";
import { mockProviders } from "../helpers/notifications";

const server = useMockNetwork();

async function openAlert(clinicId: string): Promise<string> {
  const target = uniqueId("evt");
  await env.DB.prepare(
    `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
VALUES (?1, 'clinic_mismatch', 'event', ?2, ?3, 'open', '2026-01-15T15:00:00.000Z', '2026-01-15T15:00:00.000Z')`,
  )
    .bind(uniqueId("alt"), target, clinicId)
    .run();
  return target;
}

describe("alerts for a clinic's targets also go to its alert_emails", () => {
  it("tells staff about every alert and each clinic about its own only", async () => {
    const providers = mockProviders(server);
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    const workerEnv = twoClinicEnv({ NOVAMED_CLINIC_IDS: `${a},${b}`, ALERT_EMAIL_TO: "staff@clinic.example" });
    await putClinicProfile(workerEnv, a, { alert_emails: ["ops@alpha.example", "lead@alpha.example"] });
    const ofA = await openAlert(a);
    const ofB = await openAlert(b);

    await deliverAlerts(workerEnv, new Date("2026-01-16T10:05:00.000Z"));
    const to = (address: string) => providers.emails.filter((email) => email.body.to[0] === address);
    const [staff] = to("staff@clinic.example");
    expect(staff?.body.text).toContain(ofA);
    expect(staff?.body.text).toContain(ofB);
    for (const address of ["ops@alpha.example", "lead@alpha.example"]) {
      const [clinic, ...more] = to(address);
      expect(more).toEqual([]);
      expect(clinic?.body.text).toContain(ofA);
      expect(clinic?.body.text).not.toContain(ofB);
    }
    expect(providers.emails).toHaveLength(3);

    // Delivered once: the next run tells nobody again.
    await deliverAlerts(workerEnv, new Date("2026-01-16T10:10:00.000Z"));
    expect(providers.emails).toHaveLength(3);
  });

  it("emails a clinic's alert_emails even without ALERT_EMAIL_TO", async () => {
    const providers = mockProviders(server);
    const a = crypto.randomUUID();
    const workerEnv = twoClinicEnv({ NOVAMED_CLINIC_IDS: `${a},${crypto.randomUUID()}`, ALERT_EMAIL_TO: "" });
    await putClinicProfile(workerEnv, a, { alert_emails: ["solo@alpha.example"] });
    const target = await openAlert(a);
    await deliverAlerts(workerEnv, new Date("2026-01-16T10:05:00.000Z"));
    expect(providers.emails.map((email) => email.body.to[0])).toEqual(["solo@alpha.example"]);
    expect(providers.emails[0]?.body.text).toContain(target);
  });
});

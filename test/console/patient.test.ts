import { describe, expect, it } from "vitest";
import { adminFetch } from "../helpers/admin";
import { consoleFetch, signIn } from "../helpers/console";
import { uniqueId } from "../helpers/events";

async function putPatient(patientId: string, body: Record<string, unknown>) {
  const response = await adminFetch(`/patients/${patientId}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

describe("console patient page", () => {
  it("masks contacts, shows consent and opt-out, and reveals one field only on a POST with the CSRF token", async () => {
    const patientId = uniqueId("pat");
    await putPatient(patientId, {
      phone: "+14155550123",
      email: "jane@example.com",
      sms_opt_in: true,
      email_opt_in: false,
    });
    const { cookie, csrf } = await signIn();
    const page = await (await consoleFetch(`/console/patients/${patientId}`, { cookie })).text();
    expect(page).toContain("+1•••••0123");
    expect(page).toContain("j•••@example.com");
    expect(page).not.toContain("+14155550123");
    expect(page).not.toContain("jane@example.com");
    expect(page).toMatch(/id="sms-consent">yes</);
    expect(page).toMatch(/id="email-consent">no</);
    expect(page).toMatch(/id="sms-opt-out">not opted out</);
    expect(page).toContain('aria-label="Reveal phone"');

    const refused = await consoleFetch(`/console/patients/${patientId}/reveal`, { cookie, form: { field: "phone" } });
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain("+14155550123");

    const revealed = await consoleFetch(`/console/patients/${patientId}/reveal`, {
      cookie,
      form: { _csrf: csrf, field: "email" },
    });
    const html = await revealed.text();
    expect(revealed.status).toBe(200);
    expect(revealed.headers.get("cache-control")).toBe("no-store");
    expect(html).toContain("jane@example.com");
    expect(html).toContain("+1•••••0123");

    const bad = await consoleFetch(`/console/patients/${patientId}/reveal`, {
      cookie,
      form: { _csrf: csrf, field: "ssn" },
    });
    expect(bad.status).toBe(400);
  });

  it("404s a patient nothing knows", async () => {
    const { cookie } = await signIn();
    expect((await consoleFetch(`/console/patients/${uniqueId("pat")}`, { cookie })).status).toBe(404);
  });
});

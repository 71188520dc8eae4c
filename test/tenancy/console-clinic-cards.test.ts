import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { putClinicProfile } from "../helpers/clinics";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";
import { addStaff, twoClinicAccess, useAccessTeam } from "../helpers/staff";

const access = useAccessTeam();

/** The overview's card of one clinic (its `<section>`), or null. */
function cardOf(page: string, clinicId: string): string | null {
  const match = new RegExp(`<section[^>]*data-clinic="${clinicId}"[^>]*>([\\s\\S]*?)</section>`).exec(page);
  return match?.[1] ?? null;
}

describe("the overview has a card per clinic of the identity", () => {
  it("each card names its clinic, counts its events needing attention and open alerts, and links to its lists", async () => {
    const { a, b, workerEnv } = twoClinicAccess();
    await putClinicProfile(workerEnv, a, { name: "Alpha Care" });
    await putClinicProfile(workerEnv, b, { name: "Beta Health" });
    // Clinic B: two events that fail their schema (invalid). Clinic A: one open alert.
    const invalid = [1, 2].map(() =>
      makeEvent("refill:approved", { clinic_id: b, data: { refill_id: 42, patient_id: "" } }),
    );
    await runBatch(
      EVENTS_QUEUE,
      invalid.map((event) => eventMessage(event)),
      workerEnv,
    );
    await env.DB.prepare(
      `INSERT INTO alerts (alert_id, rule, target_type, target_id, clinic_id, state, since, opened_at)
       VALUES (?1, 'event_dead', 'event', ?2, ?3, 'open', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')`,
    )
      .bind(uniqueId("alt"), uniqueId("evt"), a)
      .run();

    const asAdmin = await access.signedIn(workerEnv, "a@clinic.example");
    const page = await (await asAdmin("/console")).text();
    const cardA = cardOf(page, a);
    const cardB = cardOf(page, b);
    expect(cardA).toContain("Alpha Care");
    expect(cardA).toMatch(/<strong>0<\/strong> events need attention/);
    expect(cardA).toMatch(/<strong>1<\/strong> open alert</);
    expect(cardA).toContain(`href="/console/alerts?clinic=${a}"`);
    expect(cardB).toContain("Beta Health");
    expect(cardB).toMatch(/<strong>2<\/strong> events need attention/);
    expect(cardB).toContain(`href="/console/events?clinic=${b}"`);

    // A viewer of clinic A: clinic A's card only, nothing of clinic B anywhere on the page.
    const viewer = await access.signedIn(workerEnv, await addStaff(workerEnv, "viewer", [a]));
    const scoped = await (await viewer("/console")).text();
    expect(cardOf(scoped, a)).toContain("Alpha Care");
    expect(scoped).not.toContain(b);
    expect(scoped).not.toContain("Beta Health");
    // The filter narrows an admin's overview to one clinic's card.
    const filtered = await (await asAdmin(`/console?clinic=${b}`)).text();
    expect(cardOf(filtered, b)).not.toBeNull();
    expect(cardOf(filtered, a)).toBeNull();
  });
});

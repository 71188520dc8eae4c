import { randomUUID } from "node:crypto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { twilioSignature } from "../../src/notify/twilio-signature.ts";
import { launchBrowser, screenshot, seriousAccessibilityViolations, watchPage } from "./browser.ts";
import { type Receiver, startReceiver, TEST_SECRETS } from "./receiver.ts";

const CLINIC_ID = TEST_SECRETS.NOVAMED_CLINIC_IDS;
const run = randomUUID().slice(0, 8);
const ids = {
  order: `ord_${run}`,
  patient: `pat_${run}`,
  shipped: `evt_${run}_shipped`,
  created: `evt_${run}_created`,
  invalid: `evt_${run}_invalid`,
  unknown: `evt_${run}_unknown`,
  bulk: [1, 2, 3, 4].map((n) => `evt_${run}_bulk${n}`),
};
/** The patient's text a test sends through Twilio's inbound webhook, once it is stored. */
let replyId = "";

let receiver: Receiver;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let problems: string[];

/** Polls `check` until it returns a value (the receiver's queues run in the background). */
async function until<T>(check: () => Promise<T | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function admin(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${TEST_SECRETS.ADMIN_TOKEN}`);
  return fetch(`${receiver.url}/admin${path}`, { ...init, headers });
}

interface Stats {
  events: { total: number; by_status: Record<string, number> };
  notifications: { total: number; by_status: Record<string, number> };
}

async function stats(): Promise<Stats> {
  return (await (await admin("/stats")).json()) as Stats;
}

function postEvent(eventId: string, eventType: string, data: Record<string, unknown>): Promise<Response> {
  return fetch(`${receiver.url}/webhooks/novamed`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": TEST_SECRETS.NOVAMED_WEBHOOK_SECRET },
    body: JSON.stringify({
      event_id: eventId,
      event_type: eventType,
      timestamp: new Date().toISOString(),
      clinic_id: CLINIC_ID,
      data,
    }),
  });
}

/** The event's row from the admin API once it has `status`. */
async function eventWithStatus(eventId: string, status: string): Promise<boolean> {
  const response = await admin(`/events/${eventId}`);
  return response.ok && ((await response.json()) as { status: string }).status === status;
}

/** The attempts the events list on the page shows for an event, once it is back to `invalid`. */
async function invalidAttemptsShown(eventId: string): Promise<number | undefined> {
  const row = page.locator(`tr[data-event-id="${eventId}"]`);
  if ((await row.locator(".status-invalid").count()) === 0) return undefined;
  return Number(await row.locator("td.number").textContent());
}

/** What the layout check reads of a page's document (the test's types have no DOM). */
interface PageDocument {
  documentElement: { scrollWidth: number; clientWidth: number };
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null; getClientRects(): { length: number } }>;
}

/** Checks the page a test ends on: no console or request problems, no serious axe findings; saves a screenshot. */
async function reviewPage(name: string): Promise<void> {
  await screenshot(page, name);
  expect(await seriousAccessibilityViolations(page)).toEqual([]);
  expect(problems).toEqual([]);
}

beforeAll(async () => {
  [receiver, browser] = await Promise.all([startReceiver(), launchBrowser()]);
  // 1280×800: the screenshots double as the README's (docs/images/).
  context = await browser.newContext({ baseURL: receiver.url, viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  problems = watchPage(page);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await receiver?.stop();
});

afterEach((test) => {
  if (test.task.result?.state === "fail") console.error(receiver.output().slice(-4000));
});

describe("console in a browser", () => {
  it("sends a visitor without a session to the login form and signs in with the admin token", async () => {
    await page.goto("/console/events");
    expect(new URL(page.url()).pathname).toBe("/console/login");
    await reviewPage("login");
    await page.getByLabel("Admin token").fill(TEST_SECRETS.ADMIN_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL("**/console/events");
    expect(await page.getByText("Signed in as token:admin").count()).toBe(1);
  });

  it("shows events posted through the real edge on the overview with the same counts as /admin/stats", async () => {
    const order = { order_id: ids.order, patient_id: ids.patient, carrier: "UPS", tracking_number: "1Z999" };
    for (const response of await Promise.all([
      postEvent(ids.created, "order:created", order),
      postEvent(ids.shipped, "order:shipped", order),
      postEvent(ids.invalid, "refill:denied", { refill_id: 7, patient_id: ids.patient }),
      postEvent(ids.unknown, "console:unknown", { patient_id: ids.patient }),
    ])) {
      expect(response.status).toBe(200);
    }
    const settled = await until(async () => {
      const current = await stats();
      const busy = (current.events.by_status.queued ?? 0) + (current.events.by_status.processing ?? 0);
      const sending = current.notifications.by_status.pending ?? 0;
      return current.events.total >= 4 && busy === 0 && sending === 0 ? current : undefined;
    }, "the four events to be processed and their notifications handled");

    await page.goto("/console");
    for (const [status, count] of Object.entries(settled.events.by_status)) {
      expect(await page.locator(`#event-totals td[data-status="${status}"]`).textContent()).toBe(String(count));
    }
    expect(await page.locator('#event-totals td[data-status="total"]').textContent()).toBe(
      String(settled.events.total),
    );
    for (const [status, count] of Object.entries(settled.notifications.by_status)) {
      expect(await page.locator(`#notification-totals td[data-status="${status}"]`).textContent()).toBe(String(count));
    }
    expect(await page.getByRole("img", { name: /last 24 hours/ }).count()).toBe(1);
    // Suppressed messages by reason, in words (the patient is not in the directory yet), each card with its window.
    expect(await page.locator('#suppressed-reasons li[data-reason="unknown patient"]').textContent()).toContain(
      "the patient is not in the clinic's patient directory",
    );
    expect(await page.locator(".cards .card .window").count()).toBe(await page.locator(".cards .card").count());
    expect(await page.getByText(/s ago\)|min ago\)/).count()).toBeGreaterThan(0);
    await reviewPage("overview");
  });

  it("filters the list by status and finds events by order and patient id", async () => {
    await page.goto("/console/events");
    await page.getByLabel("Status").selectOption("invalid");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL("**/console/events?*status=invalid*");
    expect(await page.locator(`tr[data-event-id="${ids.invalid}"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-event-id="${ids.shipped}"]`).count()).toBe(0);

    await page.goto("/console/events");
    await page.getByLabel("Search by id").fill(ids.order);
    await page.keyboard.press("Enter");
    await page.waitForURL(`**/console/events?*q=${ids.order}*`);
    expect(await page.locator("#events tbody tr").count()).toBe(2);

    await page.goto(`/console/events?q=${ids.patient}`);
    expect(await page.locator("#events tbody tr").count()).toBe(4);
    await reviewPage("events");
  });

  it("opens an event's timeline and its order", async () => {
    await page.getByRole("link", { name: ids.shipped }).click();
    await page.waitForURL(`**/console/events/${ids.shipped}`);
    expect(await page.getByText("Set the order's current status (shipped).").count()).toBe(1);
    expect(await page.getByRole("checkbox", { name: /re-apply this event/ }).count()).toBe(1);
    // The payload as sent: ids, carrier and tracking number shown; a reveal is a recorded POST.
    const payload = await page.locator("#payload").textContent();
    expect(payload).toContain(`"order_id": "${ids.order}"`);
    expect(payload).toContain('"tracking_number": "1Z999"');
    expect(payload).toContain('"carrier": "UPS"');
    await reviewPage("event");
    await page.getByRole("button", { name: "Reveal payload" }).click();
    expect(await page.getByText("this reveal was recorded in the audit trail").count()).toBe(1);
    await page.goto(`/console/events/${ids.shipped}`);
    expect(await page.locator("#event-history").textContent()).toContain("payload revealed by token:admin");

    await page.getByRole("link", { name: ids.order }).click();
    await page.waitForURL(`**/console/orders/${ids.order}`);
    expect(await page.locator("tr[data-event-id]").count()).toBe(2);
    expect(await page.locator(`tr[data-event-id="${ids.shipped}"]`).textContent()).toContain("set the current status");
    await reviewPage("order");
  });

  it("replays an invalid event and shows the new attempt and outcome", async () => {
    await page.goto(`/console/events/${ids.invalid}`);
    expect(await page.locator("dd .status-invalid").count()).toBe(1);
    expect(await page.getByText("1 processing attempt", { exact: true }).count()).toBe(1);
    await page.getByRole("button", { name: "Replay this event" }).click();
    await page.waitForURL(`**/console/events/${ids.invalid}?replayed=1`);
    expect(await page.getByText("Replay queued").count()).toBe(1);
    await until(async () => {
      await page.reload();
      return (await page.getByText("2 processing attempts").count()) === 1;
    }, "the replay to run");
    expect(await page.locator("dd .status-invalid").count()).toBe(1);
    expect(await page.locator("#event-history li", { hasText: "replay by token:admin" }).count()).toBe(1);
    await reviewPage("event-replayed");
  });

  it("masks a patient's phone and reveals it on request", async () => {
    const put = await admin(`/patients/${ids.patient}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone: "+14155550123", email: "jane@example.com", sms_opt_in: true, email_opt_in: true }),
    });
    expect(put.status).toBe(200);
    await page.goto(`/console/patients/${ids.patient}`);
    expect(await page.locator("#phone-value").textContent()).toBe("+1•••••0123");
    expect(await page.getByText("+14155550123").count()).toBe(0);
    await reviewPage("patient");
    await page.getByRole("button", { name: "Reveal phone" }).click();
    expect(await page.locator("#phone-value").textContent()).toBe("+14155550123");
    expect(await page.locator("#email-value").textContent()).toBe("j•••@example.com");
    expect(problems).toEqual([]);
  });

  it("finds the reveal in the audit trail, filtered by the patient, with the signed-in actor", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
    await page.waitForURL("**/console/audit");
    await page.getByLabel("Target id").fill(ids.patient);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(`**/console/audit?*target_id=${ids.patient}*`);
    const reveal = page.locator("#audit tbody tr", { hasText: "patient.reveal_phone" });
    expect(await reveal.count()).toBe(1);
    expect(await reveal.locator("td").nth(1).textContent()).toBe("token:admin");
    expect(await reveal.getByRole("link", { name: ids.patient }).getAttribute("href")).toBe(
      `/console/patients/${ids.patient}`,
    );
    expect(await reveal.locator(".status-success").textContent()).toBe("success");
    expect(await page.getByText("+14155550123").count()).toBe(0);
    await reviewPage("audit");
  });

  it("lists the lifecycle watch's alerts after the cron runs and acknowledges one", async () => {
    // The invalid event above is still invalid: the 5-minute cron, fired by hand, opens its alert.
    const cron = await fetch(`${receiver.url}/__scheduled?cron=*%2F5+*+*+*+*`);
    expect(cron.status).toBe(200);
    await page.goto("/console");
    expect(Number(await page.locator("#open-alerts strong").textContent())).toBeGreaterThanOrEqual(1);
    await page.locator("#open-alerts").click();
    await page.waitForURL("**/console/alerts");
    const row = page.locator("tr", { hasText: ids.invalid });
    expect(await row.locator("td code").first().textContent()).toBe("event_invalid");
    await reviewPage("alerts");
    expect(await page.getByText(/Alert delivery: webhook not configured/).count()).toBe(1);
    expect(await row.getByText(/What to do: open the event/).count()).toBe(1);
    await row.getByRole("button", { name: /Acknowledge/ }).click();
    await page.waitForURL("**/console/alerts?state=open");
    // Acknowledged, it leaves the open list; the tabs say which list is shown.
    const tabs = page.getByRole("navigation", { name: "Alert state" });
    expect(await tabs.locator('[aria-current="page"]').textContent()).toBe("Open");
    expect(await page.locator("tr", { hasText: ids.invalid }).count()).toBe(0);
    await tabs.getByRole("link", { name: "Acknowledged" }).click();
    await page.waitForURL("**/console/alerts?state=acknowledged");
    expect(await tabs.locator('[aria-current="page"]').textContent()).toBe("Acknowledged");
    expect(await page.locator("tr", { hasText: ids.invalid }).getByText("by token:admin").count()).toBe(1);
    expect(problems).toEqual([]);
  });

  it("follows a patient_replied alert to what the patient wrote, shown as text", async () => {
    // A reply for a person, signed as Twilio signs it, with markup that must stay text.
    const form = { From: "+14155550123", To: "+14155550100", Body: `<b>Is my order</b> on its way? ${run}` };
    const url = `${receiver.url}/webhooks/twilio/inbound`;
    const inbound = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": await twilioSignature(TEST_SECRETS.TWILIO_AUTH_TOKEN, url, form),
      },
      body: new URLSearchParams(form),
    });
    expect(inbound.status).toBe(200);
    await page.goto("/console/alerts?rule=patient_replied");
    const link = page.locator('a[href^="/console/inbound-replies/"]');
    expect(await link.count()).toBe(1);
    replyId = (await link.textContent()) ?? "";
    await link.click();
    await page.waitForURL(`**/console/inbound-replies/${replyId}`);
    expect(await page.locator("#reply-text").textContent()).toBe(form.Body);
    await reviewPage("inbound-reply");
  });

  it("selects two invalid events and replays them together", async () => {
    for (const eventId of ids.bulk) {
      expect((await postEvent(eventId, "refill:denied", { refill_id: 7, patient_id: ids.patient })).status).toBe(200);
    }
    for (const eventId of ids.bulk) await until(() => eventWithStatus(eventId, "invalid"), `${eventId} to be invalid`);

    await page.goto("/console/events?status=invalid");
    const [first, second, third] = ids.bulk as [string, string, string];
    await page.getByRole("checkbox", { name: `Select ${first}` }).check();
    await page.getByRole("checkbox", { name: `Select ${second}` }).check();
    await page.getByRole("button", { name: "Replay selected" }).click();
    await page.waitForURL("**/console/events?status=invalid&replayed=2&selected=2");
    expect(await page.getByText("2 events queued for replay.").count()).toBe(1);
    await reviewPage("events-bulk-replay");
    // Every event of the patient, whatever its status, while the replays run.
    await until(async () => {
      await page.goto(`/console/events?q=${ids.patient}`);
      const attempts = await Promise.all([first, second, third].map((id) => invalidAttemptsShown(id)));
      return attempts.join() === "2,2,1";
    }, "the two selected events to run again");
    expect(problems).toEqual([]);
  });

  it("replays everything matching the status filter", async () => {
    await page.goto("/console/events?status=invalid");
    const matching = await page.locator("#events tbody tr").count();
    const before = await Promise.all(ids.bulk.map((id) => invalidAttemptsShown(id)));
    expect(before).toEqual([2, 2, 1, 1]);
    await page.getByRole("button", { name: /Replay all matching/ }).click();
    await page.waitForURL("**/console/events?status=invalid&replayed=*");
    expect(await page.getByText(`${matching} events queued for replay.`).count()).toBe(1);
    await until(async () => {
      await page.goto(`/console/events?q=${ids.patient}`);
      const after = await Promise.all(ids.bulk.map((id) => invalidAttemptsShown(id)));
      return after.join() === "3,3,2,2";
    }, "every invalid event to run again");
    expect(problems).toEqual([]);
  });

  it("lists a forwarding destination for the admin and opens its deliveries with the replay forms", async () => {
    const destination = `dst_${run}`;
    const put = await admin(`/destinations/${destination}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      // Disabled: nothing is sent from the local receiver; the page shows the state.
      body: JSON.stringify({ clinic_id: CLINIC_ID, url: "http://127.0.0.1:9/hooks", events: ["*"], enabled: false }),
    });
    expect(put.status).toBe(201);
    await page.goto("/console");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Destinations" }).click();
    await page.waitForURL("**/console/destinations");
    const row = page.locator(`tr[data-destination-id="${destination}"]`);
    expect(await row.locator(".status-disabled").textContent()).toBe("disabled");
    await reviewPage("destinations");
    await row.getByRole("link", { name: destination }).click();
    await page.waitForURL(`**/console/destinations/${destination}`);
    await reviewPage("destination");
    await page.getByRole("button", { name: /Replay all matching/ }).click();
    await page.waitForURL(`**/console/destinations/${destination}?*`);
    expect(await page.getByText("0 deliveries queued for replay.").count()).toBe(1);
    expect(problems).toEqual([]);
  });
  it("shows every console page at 1280 and 390 px without sideways scrolling, ids whole, axe clean", async () => {
    const pages: [string, string][] = [
      ["overview", "/console"],
      ["events", `/console/events?q=${ids.patient}`],
      ["event", `/console/events/${ids.shipped}`],
      ["event-invalid", `/console/events/${ids.invalid}`],
      ["order", `/console/orders/${ids.order}`],
      ["patient", `/console/patients/${ids.patient}`],
      ["alerts", "/console/alerts"],
      ["alerts-acknowledged", "/console/alerts?state=acknowledged"],
      ["alerts-resolved", "/console/alerts?state=resolved"],
      ["inbound-reply", `/console/inbound-replies/${replyId}`],
      ["audit", "/console/audit"],
      ["clinics", "/console/clinics"],
      ["search", `/console/search?q=${ids.order}`],
      ["patients", "/console/patients"],
      ["orders", "/console/orders"],
      ["medication-requests", "/console/medication-requests"],
      ["refills", "/console/refills"],
      ["notifications", "/console/notifications"],
      ["destinations", "/console/destinations"],
    ];
    const found: string[] = [];
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 800 });
      for (const [name, path] of pages) {
        await page.goto(path);
        const layout = await page.evaluate(() => {
          const { document } = globalThis as unknown as { document: PageDocument };
          const root = document.documentElement;
          // An inline id wrapped over two lines has two client rectangles.
          const broken = Array.from(document.querySelectorAll(".mono, code"))
            .filter((element) => !/\s/.test(element.textContent?.trim() ?? ""))
            .filter((element) => element.getClientRects().length > 1)
            .map((element) => element.textContent ?? "");
          return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, broken };
        });
        if (layout.scrollWidth > layout.clientWidth)
          found.push(`${name} at ${width} px scrolls sideways (${layout.scrollWidth} > ${layout.clientWidth})`);
        for (const id of layout.broken) found.push(`${name} at ${width} px breaks ${id}`);
        for (const violation of await seriousAccessibilityViolations(page))
          found.push(`${name} at ${width} px: ${violation}`);
        await screenshot(page, `${name}-${width}`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    // Every page and width is checked before failing, so one run lists everything to fix.
    expect(found).toEqual([]);
    expect(problems).toEqual([]);
    // 38 pages, each with axe and a full-page screenshot: minutes on a shared machine.
  }, 300_000);

  it("refuses a POST without the CSRF token and a page without a session", async () => {
    const withoutToken = await page.request.post("/console/logout", {
      form: { field: "phone" },
      headers: { origin: receiver.url },
      maxRedirects: 0,
    });
    expect(withoutToken.status()).toBe(403);
    const stranger = await browser.newContext({ baseURL: receiver.url });
    try {
      const response = await stranger.request.get("/console", { maxRedirects: 0 });
      expect(response.status()).toBe(303);
      const strangerPage = await stranger.newPage();
      await strangerPage.goto(`/console/patients/${ids.patient}`);
      expect(new URL(strangerPage.url()).pathname).toBe("/console/login");
      const post = await stranger.request.post(`/console/patients/${ids.patient}/reveal`, {
        form: { field: "phone" },
        headers: { origin: receiver.url },
        maxRedirects: 0,
      });
      expect(post.status()).toBe(401);
    } finally {
      await stranger.close();
    }
    // Still signed in: the refused POST changed nothing. Then sign out through the form.
    await page.goto("/console");
    const cookiesBefore = await page.context().cookies();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL("**/console/login");
    await page.goto("/console");
    expect(new URL(page.url()).pathname).toBe("/console/login");
    // The session was revoked server-side: the old cookie, put back, opens nothing.
    await page.context().addCookies(cookiesBefore);
    await page.goto("/console");
    expect(new URL(page.url()).pathname).toBe("/console/login");
    expect(problems).toEqual([]);
  });
});

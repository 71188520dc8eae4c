import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { consoleFetch, signIn } from "../helpers/console";
import { makeEvent, uniqueId } from "../helpers/events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "../helpers/queue";

/** The Worker with some settings overridden, as a deploy with a typo would run it. */
const fetcherWith = (overrides: Record<string, string>) => async (request: Request) =>
  worker.fetch(request, { ...env, ...overrides } as Env, createExecutionContext());

describe("the console when a notification setting is broken", () => {
  it.each([
    ["SMS_SEND_WINDOW is malformed", { SMS_SEND_WINDOW: "whenever" }, "EST"],
    ["CLINIC_TIMEZONE is not a zone", { CLINIC_TIMEZONE: "Mars/Olympus_Mons" }, "UTC"],
  ])("%s: every page still answers, times in the clinic's zone or else UTC", async (_case, overrides, zoneName) => {
    const orderId = uniqueId("ord");
    const event = makeEvent("order:shipped", { data: { order_id: orderId } });
    await runBatch(EVENTS_QUEUE, [eventMessage(event)]);
    const fetcher = fetcherWith(overrides);
    const { cookie } = await signIn(fetcher);
    for (const path of [
      "/console",
      "/console/events",
      `/console/events/${event.event_id}`,
      `/console/orders/${orderId}`,
      "/console/patients/pat_67890",
      "/console/alerts",
      "/console/audit",
    ]) {
      const response = await consoleFetch(path, { cookie }, fetcher);
      expect(response.status, path).toBe(200);
      const html = await response.text();
      if (path === `/console/events/${event.event_id}`) expect(html).toContain(zoneName);
    }
  });
});

import { env } from "cloudflare:workers";
import { HttpResponse, http } from "msw";
import type { setupServer } from "msw/native";
import { vi } from "vitest";
import worker from "../../src/index";
import { twilioSignature } from "../../src/notify/twilio-signature";
import { QUEUES } from "../../src/queue/dispatch";
import { consumeNotifications } from "../../src/queue/notifications-consumer";
import type { SendJob } from "../../src/queue/send-job";
import { adminFetch } from "./admin";
import { TEST_NOW } from "./clock";
import { type EnvelopeLike, uniqueId } from "./events";
import { EVENTS_QUEUE, eventMessage, runBatch } from "./queue";

export const NOTIFICATIONS_QUEUE = QUEUES.notifications;
export const NOTIFICATIONS_DLQ = QUEUES.notificationsDeadLetter;

/** The notification settings of a clinic with Twilio and Resend connected. */
export const PROVIDER_ENV = {
  SMS_PROVIDER: "twilio",
  EMAIL_PROVIDER: "resend",
  TWILIO_ACCOUNT_SID: "AC00000000000000000000000000000001",
  TWILIO_AUTH_TOKEN: "twilio-test-token",
  TWILIO_MESSAGING_SERVICE_SID: "MG00000000000000000000000000000001",
  PUBLIC_BASE_URL: "https://receiver.test",
  RESEND_API_KEY: "re_test_key",
  EMAIL_FROM: "Sunrise Clinic <care@sunrise.example>",
  CLINIC_NAME: "Sunrise Clinic",
  CLINIC_PHONE: "+14155550100",
};

export function providerEnv(overrides: Record<string, string> = {}): Env {
  return { ...env, ...PROVIDER_ENV, ...overrides } as unknown as Env;
}

/** 10:00 in New York on a January weekday: inside the default send window (the suite clock's start). */
export const DAYTIME = TEST_NOW;

/** A directory record for `patientId`: a random phone, an email from the id, opted in to both (`fields` on top). */
export function patientRecord(patientId: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    phone: `+1415555${String(Math.floor(Math.random() * 10_000)).padStart(4, "0")}`,
    email: `${patientId}@example.org`,
    timezone: "America/New_York",
    sms_opt_in: true,
    email_opt_in: true,
    ...fields,
  };
}

/** Creates a patient through the admin API; returns its id. */
export async function createPatient(
  fields: Partial<{
    phone: string | null;
    email: string | null;
    timezone: string | null;
    sms_opt_in: boolean;
    email_opt_in: boolean;
    locale: "en" | "es" | null;
  }> = {},
) {
  const patientId = uniqueId("pat");
  const response = await adminFetch(`/patients/${patientId}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patientRecord(patientId, fields)),
  });
  if (response.status !== 200) throw new Error(`patient not created: ${response.status} ${await response.text()}`);
  return patientId;
}

/**
 * Applies events through the events consumer and returns the send jobs it enqueued — captured
 * instead of delivered, so each test decides when and with which settings the sender runs.
 */
export async function applyAndCaptureJobs(events: EnvelopeLike[]): Promise<SendJob[]> {
  const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockResolvedValue(undefined as never);
  try {
    await runBatch(
      EVENTS_QUEUE,
      events.map((event) => eventMessage(event)),
    );
    return sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body as SendJob));
  } finally {
    sendBatch.mockRestore();
  }
}

/** Runs the sender over jobs with the given settings and clock; returns acks, retries and delayed re-enqueues. */
export async function runSender(jobs: SendJob[], options: { workerEnv?: Env; now?: number; attempts?: number } = {}) {
  const delayed: { body: SendJob; delaySeconds?: number }[] = [];
  const sendBatch = vi.spyOn(env.NOTIFICATIONS, "sendBatch").mockImplementation(async (messages) => {
    for (const message of messages) delayed.push({ body: message.body as SendJob, delaySeconds: message.delaySeconds });
    return undefined as never;
  });
  try {
    const workerEnv = options.workerEnv ?? providerEnv();
    const result = await runBatch(
      NOTIFICATIONS_QUEUE,
      jobs.map((job) => ({ id: uniqueId("job"), timestamp: new Date(), attempts: options.attempts ?? 1, body: job })),
      { ...workerEnv, NOTIFICATIONS: env.NOTIFICATIONS },
      (batch, batchEnv) => consumeNotifications(batch, batchEnv, { now: () => options.now ?? DAYTIME }),
    );
    return { ...result, delayed };
  } finally {
    sendBatch.mockRestore();
  }
}

export interface NotificationView {
  notification_id: string;
  channel: "sms" | "email";
  status: string;
  provider: string | null;
  attempts: number;
  sent_at: string | null;
  scheduled_for: string | null;
  error: string | null;
  /** The stable reason code of a suppressed, held or scheduled notification (src/notify/reasons.ts). */
  reason: string | null;
  reason_setting: string | null;
}

/** The notifications of an event, as the admin API shows them, keyed by channel. */
export async function notificationsOf(eventId: string): Promise<Record<string, NotificationView>> {
  const response = await adminFetch(`/events/${eventId}`);
  if (response.status === 404) return {}; // not consumed yet
  const body = (await response.json()) as { notifications: NotificationView[] };
  return Object.fromEntries(body.notifications.map((notification) => [notification.channel, notification]));
}

/** A message as Twilio's Message resource documents it (API 2010-04-01), as created at `at`. */
function twilioMessage(accountSid: string, sid: string, form: URLSearchParams, status: string, at: Date) {
  const date = at.toUTCString().replace("GMT", "+0000");
  return {
    account_sid: accountSid,
    api_version: "2010-04-01",
    body: form.get("Body"),
    date_created: date,
    date_sent: status === "accepted" ? null : date,
    date_updated: date,
    direction: "outbound-api",
    error_code: null,
    error_message: null,
    from: form.get("From"),
    messaging_service_sid: form.get("MessagingServiceSid"),
    num_media: "0",
    num_segments: "1",
    price: null,
    price_unit: "USD",
    sid,
    status,
    subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
    to: form.get("To"),
    uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
  };
}

/**
 * Twilio's and Resend's documented APIs, recording every request they receive. Twilio's Messages
 * list (GET, filtered by `To` and `DateSent>`) answers from the messages sent here, in its documented
 * page shape, and records each lookup.
 */
export function mockProviders(
  server: ReturnType<typeof setupServer>,
  options: {
    /** Accept the next N SMS and then lose the answer (a network error after Twilio created it). */
    loseAnswers?: number;
    /** Accept the next N emails and then lose the answer (a network error after Resend sent it). */
    loseEmailAnswers?: number;
    /** Runs while Twilio "processes" an SMS, before it answers. */
    whileSending?: (form: URLSearchParams) => Promise<void>;
    /**
     * Twilio's clock, which stamps each message's `date_created`: the suite's clock by default (DAYTIME,
     * the sender's default), so a lookup's time bound never depends on the machine's date.
     */
    now?: () => number;
  } = {},
) {
  let answersToLose = options.loseAnswers ?? 0;
  let emailAnswersToLose = options.loseEmailAnswers ?? 0;
  const sms: { to: string; body: string; form: URLSearchParams; authorization: string | null }[] = [];
  const lookups: URLSearchParams[] = [];
  const created: { accountSid: string; sid: string; form: URLSearchParams; at: Date }[] = [];
  const emails: {
    key: string | null;
    body: { from: string; to: string[]; subject: string; text: string; html: string };
    authorization: string | null;
  }[] = [];
  const sentByKey = new Map<string, { id: string; payload: string }>();
  server.use(
    http.post("https://api.twilio.com/2010-04-01/Accounts/:accountSid/Messages.json", async ({ request, params }) => {
      const form = new URLSearchParams(await request.text());
      sms.push({
        to: form.get("To")!,
        body: form.get("Body")!,
        form,
        authorization: request.headers.get("authorization"),
      });
      const sid = `SM${crypto.randomUUID().replaceAll("-", "")}`;
      const accountSid = String(params.accountSid);
      const at = new Date(options.now?.() ?? DAYTIME);
      created.push({ accountSid, sid, form, at });
      await options.whileSending?.(form);
      if (answersToLose > 0) {
        answersToLose -= 1;
        return HttpResponse.error();
      }
      return HttpResponse.json(twilioMessage(accountSid, sid, form, "accepted", at), { status: 201 });
    }),
    http.get("https://api.twilio.com/2010-04-01/Accounts/:accountSid/Messages.json", ({ request, params }) => {
      const query = new URL(request.url).searchParams;
      lookups.push(query);
      const since = query.get("DateSent>");
      const messages = created
        .filter(({ accountSid, form, at }) => {
          if (accountSid !== params.accountSid) return false;
          if (query.has("To") && form.get("To") !== query.get("To")) return false;
          return !since || at.toISOString().slice(0, 10) >= since;
        })
        .reverse()
        .map(({ accountSid, sid, form, at }) => twilioMessage(accountSid, sid, form, "sent", at));
      const uri = `/2010-04-01/Accounts/${params.accountSid}/Messages.json?${query}`;
      return HttpResponse.json({
        end: Math.max(0, messages.length - 1),
        first_page_uri: uri,
        messages,
        next_page_uri: null,
        page: 0,
        page_size: Number(query.get("PageSize") ?? 50),
        previous_page_uri: null,
        start: 0,
        uri,
      });
    }),
    http.post("https://api.resend.com/emails", async ({ request }) => {
      const key = request.headers.get("idempotency-key");
      const text = await request.text();
      emails.push({
        key,
        body: JSON.parse(text) as (typeof emails)[number]["body"],
        authorization: request.headers.get("authorization"),
      });
      // Resend keeps a key for 24 hours: the same key and payload answer the first email's id and
      // send nothing new; the same key with another payload is refused (409) and sends nothing.
      const earlier = key ? sentByKey.get(key) : undefined;
      if (earlier && earlier.payload !== text)
        return HttpResponse.json(
          {
            statusCode: 409,
            name: "invalid_idempotent_request",
            message: "Same idempotency key used with a different request payload.",
          },
          { status: 409 },
        );
      const id = earlier?.id ?? crypto.randomUUID();
      if (key && !earlier) sentByKey.set(key, { id, payload: text });
      if (emailAnswersToLose > 0) {
        emailAnswersToLose -= 1;
        return HttpResponse.error();
      }
      return HttpResponse.json({ id });
    }),
  );
  return {
    sms,
    /** Every SMS Twilio created, with its sid (answered or not). */
    created,
    emails,
    lookups,
    /** From now on, accept the next N SMS and then lose the answer (as the `loseAnswers` option). */
    loseNextAnswers: (count: number) => {
      answersToLose = count;
    },
    uniqueEmailKeys: () => new Set(emails.map((email) => email.key)).size,
    /** The id of the email Resend sent under each key. */
    emailIdsByKey: () => new Map([...sentByKey].map(([key, { id }]) => [key, id])),
  };
}

/** A Twilio error response as its API documents it. */
export function twilioError(status: number, code: number, message: string) {
  return HttpResponse.json(
    { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
    { status },
  );
}

/**
 * Posts a form to a Twilio webhook route as Twilio would (`path` may carry a query, as the sender's
 * StatusCallback URL does), signed with the provider settings' token unless `signature` is given, to a
 * Worker running with `workerEnv` (the provider settings by default).
 */
export async function postTwilio(
  path: string,
  params: Record<string, string>,
  signature?: string,
  workerEnv: Env = providerEnv(),
) {
  const url = `https://receiver.test/webhooks/twilio/${path}`;
  const request = new Request(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": signature ?? (await twilioSignature(PROVIDER_ENV.TWILIO_AUTH_TOKEN, url, params)),
    },
    body: new URLSearchParams(params),
  });
  return worker.fetch(request, workerEnv);
}

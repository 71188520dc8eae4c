import { env } from "cloudflare:workers";
import type { setupServer } from "msw/native";
import { Webhook } from "standardwebhooks";
import worker from "../../src/index";
import { makeEvent, uniqueId } from "./events";
import * as notifications from "./notifications";

type Server = ReturnType<typeof setupServer>;

/** A Resend webhook signing secret as Resend shows it (whsec_ + base64 of the key). */
export const RESEND_SECRET = `whsec_${btoa("resend-test-signing-key-0123456789")}`;
export const resendEnv = () => notifications.providerEnv({ RESEND_WEBHOOK_SECRET: RESEND_SECRET });

/**
 * A Resend event as its webhook documentation shows it (top-level type, created_at, data with the
 * email's id, sender, recipients and subject; bounce details for email.bounced).
 */
export function resendEvent(type: string, emailId: string, extra: Record<string, unknown> = {}) {
  return {
    type,
    created_at: new Date().toISOString(),
    data: {
      created_at: new Date().toISOString(),
      email_id: emailId,
      from: "Sunrise Clinic <care@sunrise.example>",
      to: [extra.to ?? "nobody@example.org"],
      subject: "Sunrise Clinic: your order has shipped",
      tags: { category: "order_shipped" },
      ...extra,
    },
  };
}

/** Posts a body to /webhooks/resend, signed as Svix signs it (the same library verifies it), unless `headers` say otherwise. */
export async function postResend(
  event: unknown,
  options: { secret?: string; at?: Date; headers?: Record<string, string> } = {},
) {
  const body = JSON.stringify(event);
  const id = `msg_${uniqueId("svix")}`;
  const at = options.at ?? new Date();
  const signature = new Webhook(options.secret ?? RESEND_SECRET).sign(id, at, body);
  const headers = options.headers ?? {
    "svix-id": id,
    "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
    "svix-signature": signature,
  };
  return worker.fetch(
    new Request("https://receiver.test/webhooks/resend", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "cf-connecting-ip": `198.19.${Math.floor(Math.random() * 250)}.1`,
        ...headers,
      },
      body,
    }),
    resendEnv(),
  );
}

/** An email sent through Resend for a new patient: its event, Resend's email id, the patient and address. */
export async function sentEmail(server: Server, fields: Parameters<typeof notifications.createPatient>[0] = {}) {
  const providers = notifications.mockProviders(server);
  const patientId = await notifications.createPatient(fields);
  const event = makeEvent("order:shipped", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
  await notifications.runSender(
    (await notifications.applyAndCaptureJobs([event])).filter((job) => job.channel === "email"),
    { workerEnv: resendEnv() },
  );
  const row = await env.DB.prepare(
    `SELECT provider_message_id FROM notifications WHERE event_id = ?1 AND channel = 'email'`,
  )
    .bind(event.event_id)
    .first<{ provider_message_id: string }>();
  return { event, emailId: row!.provider_message_id, patientId, address: `${patientId}@example.org`, providers };
}

/** Sends one more email to the patient and returns its notification. */
export async function nextEmail(server: Server, patientId: string) {
  notifications.mockProviders(server);
  const event = makeEvent("order:delivered", { data: { order_id: uniqueId("ord"), patient_id: patientId } });
  await notifications.runSender(
    (await notifications.applyAndCaptureJobs([event])).filter((job) => job.channel === "email"),
    { workerEnv: resendEnv() },
  );
  return (await notifications.notificationsOf(event.event_id)).email;
}

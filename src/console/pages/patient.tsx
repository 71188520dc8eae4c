import type { Context } from "hono";
import { Hono } from "hono";
import { selectPatientNotifications } from "../../db/event-search";
import type { NotificationRow } from "../../db/notifications";
import { selectOptedOutPhones, selectPatients, toPatient, toPatientRow } from "../../db/patients";
import { audited } from "../../http/audit";
import { clinicTimeZone } from "../clinic-time-zone";
import { maskEmail, maskPhone } from "../format";
import { CsrfField, Notice, renderPage } from "../layout";
import { type RevealedField, recordReveal } from "../reveal";
import type { ConsoleApp } from "../types";
import { NotificationTable } from "./shared";

const MESSAGE_LIMIT = 100;

function ContactDetail({
  patientId,
  field,
  value,
  revealed,
  csrfToken,
}: {
  patientId: string;
  field: RevealedField;
  value: string | null;
  revealed: boolean;
  csrfToken: string;
}) {
  if (!value) return <span class="muted">none on file</span>;
  if (revealed)
    return (
      <span class="mono" id={`${field}-value`}>
        {value}
      </span>
    );
  return (
    <form method="post" action={`/console/patients/${encodeURIComponent(patientId)}/reveal`} class="inline">
      <span class="mono" id={`${field}-value`}>
        {field === "phone" ? maskPhone(value) : maskEmail(value)}
      </span>{" "}
      <CsrfField token={csrfToken} />
      <input type="hidden" name="field" value={field} />
      <button type="submit" class="secondary" aria-label={`Reveal ${field}`}>
        Reveal
      </button>
    </form>
  );
}

/** The patient page: contact details masked (one revealed on request), consent, opt-out, messages. One round trip. */
async function renderPatientPage(c: Context<ConsoleApp>, patientId: string, revealed?: RevealedField) {
  const timeZone = clinicTimeZone(c.env);
  const [patients, optedOut, messages] = await c.env.DB.batch<Record<string, unknown>>([
    selectPatients(c.env.DB, [patientId]),
    selectOptedOutPhones(c.env.DB, [patientId]),
    selectPatientNotifications(c.env.DB, patientId, MESSAGE_LIMIT),
  ]);
  const stored = patients?.results[0];
  const patient = stored ? toPatient(toPatientRow(stored)) : null;
  const notifications = (messages?.results ?? []) as unknown as NotificationRow[];
  if (!patient && notifications.length === 0) {
    return renderPage(c, "Patient not found", <Notice kind="error">No patient has this id.</Notice>, 404);
  }
  const phoneOptedOut = (optedOut?.results.length ?? 0) > 0;
  const csrfToken = c.get("csrfToken");
  return renderPage(
    c,
    `Patient ${patientId}`,
    <>
      {!patient && <Notice kind="info">This patient is not in the directory; these messages name them.</Notice>}
      {patient && (
        <dl class="facts">
          <dt>Phone</dt>
          <dd>
            <ContactDetail
              patientId={patientId}
              field="phone"
              value={patient.phone}
              revealed={revealed === "phone"}
              csrfToken={csrfToken}
            />
          </dd>
          <dt>Email</dt>
          <dd>
            <ContactDetail
              patientId={patientId}
              field="email"
              value={patient.email}
              revealed={revealed === "email"}
              csrfToken={csrfToken}
            />
          </dd>
          <dt>Time zone</dt>
          <dd>{patient.timezone ?? `clinic default (${timeZone})`}</dd>
          <dt>SMS consent</dt>
          <dd id="sms-consent">{patient.sms_opt_in ? "yes" : "no"}</dd>
          <dt>Email consent</dt>
          <dd id="email-consent">{patient.email_opt_in ? "yes" : "no"}</dd>
          <dt>SMS opt-out (STOP)</dt>
          <dd id="sms-opt-out">{phoneOptedOut ? "opted out: no SMS is sent to this number" : "not opted out"}</dd>
        </dl>
      )}
      <h2>Messages</h2>
      <NotificationTable notifications={notifications} timeZone={timeZone} showEvent />
    </>,
  );
}

/** `/console/patients/:id` and the explicit, recorded reveal of one contact detail. */
export const patientPage = new Hono<ConsoleApp>();

patientPage.get("/:id", audited("patient.read", "patient", "id"), (c) => renderPatientPage(c, c.req.param("id")));

patientPage.post("/:id/reveal", async (c) => {
  const form = await c.req.parseBody();
  const field = form.field;
  if (field !== "phone" && field !== "email") {
    return renderPage(c, "Reveal", <Notice kind="error">Choose the phone or the email to reveal.</Notice>, 400);
  }
  const patientId = c.req.param("id");
  // Recorded before the value is shown: when the audit row cannot be written, nothing is revealed.
  await recordReveal(c, patientId, field);
  return renderPatientPage(c, patientId, field);
});

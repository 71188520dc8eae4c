import type { Context } from "hono";
import { Hono } from "hono";
import { readPatientWithConsent } from "../../consent/patient-consent";
import { readPatientPage } from "../../db/event-search";
import type { DirectoryClinic } from "../../db/patients";
import { audited, setAuditClinic } from "../../http/audit";
import { directoryWithin, impliedDirectory } from "../../tenancy/clinics";
import { clinicChoices } from "../clinic-filter";
import { clinicTimeZone } from "../clinic-time-zone";
import { maskEmail, maskPhone } from "../format";
import { CsrfField, Notice, renderPage } from "../layout";
import { type RevealedField, recordReveal } from "../reveal";
import { mayOperate, scopeOf } from "../scope";
import type { ConsoleApp } from "../types";
import { NotificationTable } from "./shared";

const MESSAGE_LIMIT = 100;

function ContactDetail({
  patientId,
  clinicId,
  field,
  value,
  revealed,
  csrfToken,
  mayReveal,
}: {
  patientId: string;
  clinicId: string;
  field: RevealedField;
  value: string | null;
  revealed: boolean;
  csrfToken: string;
  /** Viewers see the masked value only, without the reveal button (the POST is refused to them too). */
  mayReveal: boolean;
}) {
  if (!value) return <span class="muted">none on file</span>;
  if (!mayReveal)
    return (
      <span class="mono" id={`${field}-value`}>
        {field === "phone" ? maskPhone(value) : maskEmail(value)}
      </span>
    );
  if (revealed)
    return (
      <span class="mono" id={`${field}-value`}>
        {value}
      </span>
    );
  return (
    <form
      method="post"
      action={`/console/patients/${encodeURIComponent(patientId)}/reveal?clinic=${encodeURIComponent(clinicId)}`}
      class="inline"
    >
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

/** Recorded consent, and the patient's opt-out that overrides it (until the contact changes or START). */
function consentText(recorded: boolean, optedOut: string | null | undefined): string {
  if (optedOut) return `no: opted out (${optedOut})${recorded ? "; recorded consent yes" : ""}`;
  return recorded ? "yes" : "no";
}

/** The patient page: contact details masked (one revealed on request), consent, opt-out, messages. One round trip. */
async function renderPatientPage(
  c: Context<ConsoleApp>,
  patientId: string,
  directory: DirectoryClinic,
  revealed?: RevealedField,
) {
  const timeZone = clinicTimeZone(c.env);
  const { patient, phoneOptedOut, notifications } = await readPatientPage(
    c.env.DB,
    scopeOf(c),
    directory,
    patientId,
    MESSAGE_LIMIT,
  );
  // Consent as it takes effect (opt-outs of the current contacts), as GET /admin/patients shows it.
  const consent = patient ? await readPatientWithConsent(c.env, directory, patientId) : null;
  if (!patient && notifications.length === 0) {
    return renderPage(c, "Patient not found", <Notice kind="error">No patient has this id.</Notice>, 404);
  }
  const csrfToken = c.get("csrfToken");
  return renderPage(
    c,
    `Patient ${patientId}`,
    <>
      <p class="muted">Clinic {directory.clinicId}</p>
      {!patient && <Notice kind="info">This patient is not in the directory; these messages name them.</Notice>}
      {patient && (
        <dl class="facts">
          {(["phone", "email"] as const).map((field) => (
            <>
              <dt>{field === "phone" ? "Phone" : "Email"}</dt>
              <dd>
                <ContactDetail
                  patientId={patientId}
                  clinicId={directory.clinicId}
                  field={field}
                  value={patient[field]}
                  revealed={revealed === field}
                  csrfToken={csrfToken}
                  mayReveal={mayOperate(c)}
                />
              </dd>
            </>
          ))}
          <dt>Time zone</dt>
          <dd>{patient.timezone ?? `clinic default (${timeZone})`}</dd>
          <dt>SMS consent</dt>
          <dd id="sms-consent">{consentText(patient.sms_opt_in, consent?.sms_opt_out_reason)}</dd>
          <dt>Email consent</dt>
          <dd id="email-consent">{consentText(patient.email_opt_in, consent?.email_opt_out_reason)}</dd>
          <dt>Phone status</dt>
          <dd id="phone-status">
            {consent?.phone_status === "unreachable"
              ? `unreachable (${consent.phone_unreachable_error}): no SMS until the phone changes`
              : "reachable"}
          </dd>
          <dt>SMS opt-out (STOP)</dt>
          <dd id="sms-opt-out">{phoneOptedOut ? "opted out: no SMS is sent to this number" : "not opted out"}</dd>
        </dl>
      )}
      <h2>Messages</h2>
      <NotificationTable
        notifications={notifications}
        timeZone={timeZone}
        showEvent
        sendToken={mayOperate(c) ? c.get("csrfToken") : undefined}
      />
    </>,
  );
}

/** `/console/patients/:id` and the explicit, recorded reveal of one contact detail. */
export const patientPage = new Hono<ConsoleApp>();

/**
 * The directory the page reads: `?clinic=` (an allowed clinic of the identity), or the only configured
 * clinic, or the identity's only clinic. With several possible and none chosen, the page lists the
 * identity's clinics to choose from (null).
 */
function directoryOfPage(c: Context<ConsoleApp>): DirectoryClinic | null | "not_found" {
  const chosen = c.req.query("clinic");
  // Another clinic's directory is unknown to this identity, as an unconfigured one is.
  const directory =
    chosen === undefined ? impliedDirectory(c.env, scopeOf(c)) : directoryWithin(c.env, scopeOf(c), chosen);
  if (!directory) return chosen === undefined ? null : "not_found";
  setAuditClinic(c, directory.clinicId);
  return directory;
}

function ChooseClinic({ patientId, clinicIds }: { patientId: string; clinicIds: readonly string[] }) {
  return (
    <>
      <p>Patients belong to a clinic. Choose the clinic whose directory to read:</p>
      <ul>
        {clinicIds.map((clinicId) => (
          <li>
            <a href={`/console/patients/${encodeURIComponent(patientId)}?clinic=${encodeURIComponent(clinicId)}`}>
              {clinicId}
            </a>
          </li>
        ))}
      </ul>
    </>
  );
}

patientPage.get("/:id", audited("patient.read", "patient", "id"), (c) => {
  const patientId = c.req.param("id");
  const directory = directoryOfPage(c);
  if (directory === "not_found")
    return renderPage(c, "Patient not found", <Notice kind="error">No clinic has this id.</Notice>, 404);
  if (directory === null)
    return renderPage(c, `Patient ${patientId}`, <ChooseClinic patientId={patientId} clinicIds={clinicChoices(c)} />);
  return renderPatientPage(c, patientId, directory);
});

patientPage.post("/:id/reveal", async (c) => {
  const form = await c.req.parseBody();
  const field = form.field;
  if (field !== "phone" && field !== "email") {
    return renderPage(c, "Reveal", <Notice kind="error">Choose the phone or the email to reveal.</Notice>, 400);
  }
  const directory = directoryOfPage(c);
  if (directory === null || directory === "not_found")
    return renderPage(c, "Reveal", <Notice kind="error">Choose the patient's clinic first.</Notice>, 400);
  const patientId = c.req.param("id");
  // Recorded before the value is shown: when the audit row cannot be written, nothing is revealed.
  await recordReveal(c, patientId, field);
  return renderPatientPage(c, patientId, directory, field);
});

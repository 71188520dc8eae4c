import { Hono } from "hono";
import { getInboundReply, type InboundReply, patientsOfReply, type RepliedPatient } from "../../db/inbound-replies";
import { audited, setAuditClinic } from "../../http/audit";
import { directoryOf } from "../../tenancy/clinics";
import { clinicTimeZone } from "../clinic-time-zone";
import { Notice, renderPage, Time } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";

/** More entries with one phone than this is a shared family phone at most; the page names the first ones. */
const PATIENT_LIMIT = 10;

/** The patient page of a directory entry the reply may be from (its clinic, or the reply's for an unassigned row). */
function patientHref(patient: RepliedPatient, reply: InboundReply): string {
  const clinic = patient.clinic_id || reply.clinic_id;
  const path = `/console/patients/${encodeURIComponent(patient.patient_id)}`;
  return clinic ? `${path}?clinic=${encodeURIComponent(clinic)}` : path;
}

function MatchedPatients({ patients, reply }: { patients: RepliedPatient[]; reply: InboundReply }) {
  if (patients.length === 0) return <span class="muted">no patient of this clinic has this phone</span>;
  return (
    <ul id="reply-patients">
      {patients.map((patient) => (
        <li>
          <a class="mono" href={patientHref(patient, reply)}>
            {patient.patient_id}
          </a>
          {reply.clinic_id === null && patient.clinic_id && <span class="muted"> (clinic {patient.clinic_id})</span>}
        </li>
      ))}
    </ul>
  );
}

/**
 * `/console/inbound-replies/:reply_id`: what a patient wrote back, the target of a `patient_replied`
 * alert, for operators and admins (`src/console/scope.ts` answers a viewer 403 before anything is
 * read, whether the reply exists or not). Each view writes `inbound_reply.read` with the reply's
 * clinic, as `GET /admin/inbound-replies/:reply_id` does; another clinic's reply answers 404, as an
 * unknown one does. The text is the patient's own input: rendered as text, escaped by Hono's JSX.
 */
export const inboundReplyPage = new Hono<ConsoleApp>();

inboundReplyPage.get("/:reply_id", audited("inbound_reply.read", "inbound_reply", "reply_id"), async (c) => {
  const replyId = c.req.param("reply_id");
  const reply = await getInboundReply(c.env.DB, scopeOf(c), replyId);
  if (!reply)
    return renderPage(
      c,
      "Reply not found",
      <Notice kind="error">
        No patient reply has this id (replies are deleted after <code>PAYLOAD_RETENTION_DAYS</code>).
      </Notice>,
      404,
    );
  if (reply.clinic_id) setAuditClinic(c, reply.clinic_id);
  const directory = reply.clinic_id ? directoryOf(c.env, reply.clinic_id) : null;
  const patients = await patientsOfReply(c.env.DB, reply, directory, PATIENT_LIMIT);
  return renderPage(
    c,
    "Patient reply",
    <>
      <p class="muted">
        Reply <span class="mono">{replyId}</span>: a text from a patient that is neither a keyword nor an opt-out; this
        view was recorded in the audit trail.
      </p>
      <dl class="facts">
        <dt>Received</dt>
        <dd>
          <Time iso={reply.received_at} timeZone={clinicTimeZone(c.env)} />
        </dd>
        <dt>Clinic</dt>
        <dd id="reply-clinic">
          {reply.clinic_id ? (
            <span class="mono">{reply.clinic_id}</span>
          ) : (
            <span class="muted">no single clinic (no clinic, or several, send from the number it reached)</span>
          )}
        </dd>
        <dt>From</dt>
        <dd class="mono" id="reply-phone">
          {reply.phone}
        </dd>
        <dt>Patient</dt>
        <dd>
          <MatchedPatients patients={patients} reply={reply} />
        </dd>
      </dl>
      <h2>What the patient wrote</h2>
      <blockquote class="reply-text" id="reply-text">
        {reply.body}
      </blockquote>
      <p>
        <a href="/console/alerts?rule=patient_replied">Patient replies among the alerts</a> (acknowledge the alert once
        someone has answered).
      </p>
    </>,
  );
});

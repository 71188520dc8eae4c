import { Hono } from "hono";
import { listPatients } from "../../db/lists";
import { soleClinic } from "../../tenancy/clinics";
import { maskEmail, maskPhone } from "../format";
import { Time } from "../layout";
import type { ConsoleApp } from "../types";
import { addListPage, IdLink, patientHref } from "./list-page";

const none = <span class="muted">none</span>;

/**
 * `/console/patients`: the directory by last change, newest first, 50 a page; filters time range and
 * clinic. Contact details are always masked here (the patient's page reveals one, audited), and the
 * view is audited as `patient.list`.
 */
export const patientList = new Hono<ConsoleApp>();

addListPage(patientList, {
  path: "/console/patients",
  action: "patient.list",
  title: "Patients",
  timeLabel: "Updated",
  fields: {},
  read: (c, scope, _filters, query) => listPatients(c.env.DB, scope, soleClinic(c.env), query),
  idOf: (row) => row.patient_id,
  columns: (timeZone) => [
    { header: "Updated", cell: (row) => <Time iso={row.updated_at} timeZone={timeZone} /> },
    {
      header: "Patient",
      cell: (row) => <IdLink href={patientHref(row.patient_id, row.clinic_id)} id={row.patient_id} />,
    },
    { header: "Phone", class: "mono", cell: (row) => (row.phone ? maskPhone(row.phone) : none) },
    { header: "Email", class: "mono", cell: (row) => (row.email ? maskEmail(row.email) : none) },
    {
      header: "Consent",
      cell: (row) =>
        [row.sms_opt_in === 1 ? "SMS" : null, row.email_opt_in === 1 ? "email" : null].filter(Boolean).join(", ") ||
        "none",
    },
  ],
});

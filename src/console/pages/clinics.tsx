import { type Context, Hono } from "hono";
import { CLINIC_PROFILE_FIELDS, type ClinicProfileField, upsertClinicProfile } from "../../db/clinics";
import { coversClinic } from "../../db/scope";
import { audited, setAuditClinic } from "../../http/audit";
import { type ClinicSettings, clinicView } from "../../tenancy/clinic-settings";
import { loadClinic, loadClinics } from "../../tenancy/clinics";
import { clinicProfileInput, profileFieldsOf } from "../../tenancy/profile-input";
import { CsrfField, Notice, renderPage } from "../layout";
import { scopeOf } from "../scope";
import type { ConsoleApp } from "../types";

/** `/console/clinics`: each clinic's effective settings and where each came from; admins edit the profile. */
export const clinicsPage = new Hono<ConsoleApp>();

const NUMBER_FIELDS: readonly ClinicProfileField[] = ["sms_daily_cap", "email_daily_cap", "sms_weekly_cap"];

function shown(value: unknown): string {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function ClinicCard({
  clinic,
  editable,
  csrfToken,
  errors,
}: {
  clinic: ClinicSettings;
  editable: boolean;
  csrfToken: string;
  errors?: Record<string, string>;
}) {
  const view = clinicView(clinic);
  const settings = view.settings as Record<ClinicProfileField, unknown>;
  return (
    <section class="clinic" id={`clinic-${view.clinic_id}`} aria-label={`Clinic ${view.clinic_id}`}>
      <h2>{shown(settings.name) || view.clinic_id}</h2>
      <p class="muted mono">{view.clinic_id}</p>
      <form method="post" action={`/console/clinics/${encodeURIComponent(view.clinic_id)}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Setting</th>
              <th scope="col">Effective value</th>
              <th scope="col">From</th>
              {editable && <th scope="col">Profile (empty: the default)</th>}
            </tr>
          </thead>
          <tbody>
            {CLINIC_PROFILE_FIELDS.map((field) => (
              <tr>
                <th scope="row">{field}</th>
                <td class="mono">{shown(settings[field])}</td>
                <td>{view.sources[field]}</td>
                {editable && (
                  <td>
                    <input
                      type="text"
                      name={field}
                      aria-label={field}
                      value={view.sources[field] === "profile" ? shown(settings[field]) : ""}
                    />
                    {errors?.[field] && <span class="error">{errors[field]}</span>}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {editable && (
          <>
            <CsrfField token={csrfToken} />
            <button type="submit">Save {view.clinic_id}</button>
          </>
        )}
      </form>
    </section>
  );
}

async function renderClinics(
  c: Context<ConsoleApp>,
  notice?: { kind: "info" | "error"; text: string },
  errorsOf?: { clinicId: string; errors: Record<string, string> },
  status: 200 | 400 = 200,
) {
  const scope = scopeOf(c);
  const clinics = (await loadClinics(c.env)).filter((clinic) => coversClinic(scope, clinic.clinicId));
  return renderPage(
    c,
    "Clinics",
    <>
      {notice && <Notice kind={notice.kind}>{notice.text}</Notice>}
      <p class="muted">
        Each clinic's settings: its profile's fields over the deployment's defaults (docs/operations.md).
      </p>
      {clinics.map((clinic) => (
        <ClinicCard
          clinic={clinic}
          editable={scope.role === "admin"}
          csrfToken={c.get("csrfToken")}
          errors={errorsOf?.clinicId === clinic.clinicId ? errorsOf.errors : undefined}
        />
      ))}
    </>,
    status,
  );
}

clinicsPage.get("/", (c) =>
  renderClinics(c, c.req.query("saved") ? { kind: "info", text: "Clinic profile saved." } : undefined),
);

/** The profile fields of a posted form, as the admin API's JSON body: empty fields left out (the default). */
function profileOfForm(form: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of CLINIC_PROFILE_FIELDS) {
    const value = typeof form[field] === "string" ? (form[field] as string).trim() : "";
    if (value === "") continue;
    if (NUMBER_FIELDS.includes(field)) body[field] = /^\d+$/.test(value) ? Number(value) : value;
    else if (field === "alert_emails")
      body[field] = value
        .split(",")
        .map((email) => email.trim())
        .filter(Boolean);
    else body[field] = value;
  }
  return body;
}

// Admins only (src/console/scope.ts); CSRF checked before every POST; audited as on the admin API.
clinicsPage.post("/:clinic_id", audited("clinic.update", "clinic", "clinic_id"), async (c) => {
  const clinicId = c.req.param("clinic_id").toLowerCase();
  const clinic = coversClinic(scopeOf(c), clinicId) ? await loadClinic(c.env, clinicId) : null;
  if (!clinic) return renderPage(c, "Clinic not found", <Notice kind="error">No clinic has this id.</Notice>, 404);
  setAuditClinic(c, clinicId);
  const parsed = clinicProfileInput.safeParse(profileOfForm(await c.req.parseBody()));
  if (!parsed.success) {
    const errors = Object.fromEntries(parsed.error.issues.map((issue) => [String(issue.path[0]), issue.message]));
    return renderClinics(
      c,
      { kind: "error", text: "The profile was not saved: see the fields marked." },
      { clinicId, errors },
      400,
    );
  }
  await upsertClinicProfile(c.env.DB, clinicId, profileFieldsOf(parsed.data), c.get("now").toISOString()).run();
  return c.redirect(`/console/clinics?saved=${encodeURIComponent(clinicId)}#clinic-${clinicId}`, 303);
});

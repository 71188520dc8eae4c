import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createConsole } from "../../src/console/app";
import { type AuditEntry, insertAuditEntry } from "../../src/db/audit";
import { adminFetch } from "../helpers/admin";
import { auditRowsOf } from "../helpers/audit";
import { consoleFetch, signIn } from "../helpers/console";
import { uniqueId } from "../helpers/events";
import { CANARY, captureConsole, leakedCanaries } from "../helpers/phi-canary";
import { countingDatabase } from "../helpers/queue";

/** Appends audit rows as the writers would (ids and outcomes only). */
async function seed(rows: Partial<AuditEntry>[]): Promise<void> {
  for (const row of rows) {
    await insertAuditEntry(env.DB, {
      at: "2026-01-15T14:00:00.000Z",
      actor: "token:admin",
      action: "event.read",
      target_type: "event",
      target_id: uniqueId("evt"),
      request_id: null,
      outcome: "success",
      status: 200,
      detail: null,
      ...row,
    });
  }
}

/** The `data-audit-id` rows of the page's audit table, in page order, as `[action, target_id]`. */
function rowsOf(html: string): { action: string; targetId: string }[] {
  const table = html.slice(html.indexOf('id="audit"'), html.indexOf("</table>", html.indexOf('id="audit"')));
  return [...table.matchAll(/<tr data-audit-id="\d+">([\s\S]*?)<\/tr>/g)].map((match) => {
    const cells = [...(match[1] ?? "").matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1] ?? "");
    const target = /class="mono"[^>]*>([^<]*)</.exec(cells[3] ?? "");
    return { action: (cells[2] ?? "").trim(), targetId: target?.[1] ?? "" };
  });
}

async function auditPage(query: string, cookie: string): Promise<{ status: number; html: string }> {
  const response = await consoleFetch(`/console/audit${query}`, { cookie });
  return { status: response.status, html: await response.text() };
}

/** The page's "Next page" link, with `&amp;` decoded. */
function nextLink(html: string): string | null {
  const match = /<a href="([^"]+)" rel="next">/.exec(html);
  return match?.[1] ? match[1].replaceAll("&amp;", "&") : null;
}

describe("/console/audit", () => {
  it("lists rows newest first, with clinic times (UTC on hover), outcome as text and a linked target", async () => {
    const actor = `token:${uniqueId("ops")}`;
    await seed([
      { actor, at: "2026-01-15T13:00:00.000Z", action: "order.read", target_type: "order", target_id: "ord_1" },
      {
        actor,
        at: "2026-01-15T14:30:00.000Z",
        action: "patient.read",
        target_type: "patient",
        target_id: "pat_9",
        outcome: "not_found",
        status: 404,
      },
      { actor, at: "2026-01-15T14:00:00.000Z", action: "refill.read", target_type: "refill", target_id: "ref_3" },
    ]);
    const { cookie } = await signIn();
    const { status, html } = await auditPage(`?actor=${encodeURIComponent(actor)}`, cookie);
    expect(status).toBe(200);
    expect(rowsOf(html)).toEqual([
      { action: "patient.read", targetId: "pat_9" },
      { action: "refill.read", targetId: "ref_3" },
      { action: "order.read", targetId: "ord_1" },
    ]);
    expect(html).toContain(
      '<time datetime="2026-01-15T14:30:00.000Z" title="2026-01-15T14:30:00.000Z (UTC)">Jan 15, 2026, 09:30:00 EST</time>',
    );
    expect(html).toContain('<span class="status status-not_found">not_found</span>');
    expect(html).toContain('<a class="mono" href="/console/patients/pat_9">pat_9</a>');
    expect(html).toContain('<a href="/console/audit">Audit</a>');
  });

  it("links each target to its console page where one exists", async () => {
    const actor = `token:${uniqueId("ops")}`;
    await seed([
      { actor, target_type: "event", target_id: "evt_a" },
      { actor, target_type: "order", target_id: "ord_a" },
      { actor, target_type: "medication_request", target_id: "mr_a" },
      { actor, target_type: "refill", target_id: "ref_a" },
      { actor, target_type: "patient", target_id: "pat a/b" },
      { actor, target_type: "alert", target_id: "alr_a" },
      { actor, target_type: "notification", target_id: "ntf_a" },
      { actor, action: "event.bulk_replay", target_type: "event", target_id: "*", detail: { replayed: 3 } },
    ]);
    const { cookie } = await signIn();
    const { html } = await auditPage(`?actor=${encodeURIComponent(actor)}`, cookie);
    for (const link of [
      'href="/console/events/evt_a"',
      'href="/console/orders/ord_a"',
      'href="/console/medication-requests/mr_a"',
      'href="/console/refills/ref_a"',
      'href="/console/patients/pat%20a%2Fb"',
      '<a class="mono" href="/console/alerts">alr_a</a>',
    ])
      expect(html).toContain(link);
    expect(html).toContain('<span class="mono">ntf_a</span>');
    expect(html).toContain('<span class="mono">(many)</span>');
    expect(html).toContain("<td>replayed 3</td>");
  });

  it("filters by actor, action, target type and target id, each alone and together", async () => {
    const tag = uniqueId("f");
    const [alice, bob] = [`token:alice-${tag}`, `token:bob-${tag}`];
    const [read, reveal] = [`patient.read_${tag}`, `patient.reveal_${tag}`];
    const [patient, order] = [`patient_${tag}`, `order_${tag}`];
    await seed([
      { actor: alice, action: read, target_type: patient, target_id: `p1_${tag}` },
      { actor: alice, action: reveal, target_type: patient, target_id: `p2_${tag}` },
      { actor: bob, action: read, target_type: order, target_id: `o1_${tag}` },
      { actor: bob, action: reveal, target_type: patient, target_id: `p1_${tag}` },
    ]);
    const { cookie } = await signIn();
    const cases: [Record<string, string>, string[]][] = [
      [{ actor: alice }, [`p2_${tag}`, `p1_${tag}`]],
      [{ action: reveal }, [`p1_${tag}`, `p2_${tag}`]],
      [{ target_type: order }, [`o1_${tag}`]],
      [{ target_id: `p1_${tag}` }, [`p1_${tag}`, `p1_${tag}`]],
      [{ actor: bob, action: reveal, target_type: patient, target_id: `p1_${tag}` }, [`p1_${tag}`]],
      [{ actor: alice, target_type: order }, []],
      // An empty field, as the GET form sends it, means "any".
      [{ actor: bob, action: "", target_type: "", target_id: "" }, [`p1_${tag}`, `o1_${tag}`]],
    ];
    for (const [filters, expected] of cases) {
      const { status, html } = await auditPage(`?${new URLSearchParams(filters)}`, cookie);
      expect(status, JSON.stringify(filters)).toBe(200);
      expect(
        rowsOf(html).map((row) => row.targetId),
        JSON.stringify(filters),
      ).toEqual(expected);
      // The form shows the filters applied.
      for (const [name, value] of Object.entries(filters)) expect(html).toContain(`name="${name}" value="${value}"`);
    }
    const { html } = await auditPage(`?actor=${encodeURIComponent(alice)}&target_type=${order}`, cookie);
    expect(html).toContain("No audit rows match.");
  });

  it("pages through with the admin API's cursor, ties at the same instant included, in a constant number of round trips", async () => {
    const actor = `token:${uniqueId("pager")}`;
    // 51 rows at one instant: the second page holds the first row written (order within an instant is by insertion).
    await seed(
      Array.from({ length: 51 }, (_, index) => ({ actor, target_id: `evt_${String(index).padStart(2, "0")}` })),
    );
    const counting = countingDatabase(env.DB);
    const app = new Hono().route("/console", createConsole());
    const fetcher = (request: Request) => Promise.resolve(app.fetch(request, { ...env, DB: counting.db }));
    const { cookie } = await signIn(fetcher);

    const before = counting.roundTrips();
    const first = await (
      await consoleFetch(`/console/audit?actor=${encodeURIComponent(actor)}`, { cookie }, fetcher)
    ).text();
    // The session's, one read of the page and the audit row of reading it.
    expect(counting.roundTrips() - before).toBe(3);
    const firstRows = rowsOf(first).map((row) => row.targetId);
    expect(firstRows).toHaveLength(50);
    expect(firstRows[0]).toBe("evt_50");
    expect(firstRows.at(-1)).toBe("evt_01");

    const next = nextLink(first);
    expect(next).toMatch(/^\/console\/audit\?actor=[^&]+&cursor=/);
    const adminPage = (await (await adminFetch(`/audit?actor=${encodeURIComponent(actor)}&limit=50`)).json()) as {
      next_cursor: string;
    };
    expect(new URL(`https://x${next}`).searchParams.get("cursor")).toBe(adminPage.next_cursor);

    const second = await (await consoleFetch(next ?? "", { cookie }, fetcher)).text();
    expect(rowsOf(second).map((row) => row.targetId)).toEqual(["evt_00"]);
    expect(nextLink(second)).toBeNull();
    expect(second).toContain(`<a href="/console/audit?actor=${encodeURIComponent(actor)}">First page</a>`);
  });

  it("answers 400 with the form for a cursor it did not make or an over-long filter", async () => {
    const { cookie } = await signIn();
    for (const query of ["?cursor=not-a-cursor", `?cursor=${btoa('["x","y"]')}`, `?actor=${"a".repeat(321)}`]) {
      const { status, html } = await auditPage(query, cookie);
      expect(status, query).toBe(400);
      expect(html).toContain("These filters are not valid");
      expect(html).toContain('aria-label="Filter the audit trail"');
    }
  });

  it("sends a visitor without a session to the sign-in form", async () => {
    const response = await consoleFetch("/console/audit?actor=token%3Aadmin");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/login?next=%2Fconsole%2Faudit%3Factor%3Dtoken%253Aadmin");
  });

  it("shows a reveal of a canary phone by who and whose, never the value, and is not itself audited", async () => {
    const patientId = uniqueId("pat");
    const put = await adminFetch(`/patients/${patientId}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ phone: CANARY.phone, email: CANARY.email, sms_opt_in: true, email_opt_in: true }),
    });
    expect(put.status).toBe(200);
    const { cookie, csrf } = await signIn();
    const reveal = await consoleFetch(`/console/patients/${patientId}/reveal`, {
      cookie,
      form: { _csrf: csrf, field: "phone" },
    });
    expect(await reveal.text()).toContain(CANARY.phone);
    const rowsBefore = (await auditRowsOf("patient", patientId)).length;

    const capture = captureConsole();
    const pages: string[] = [];
    try {
      for (const query of [`?target_id=${patientId}`, "?action=patient.reveal_phone", ""]) {
        const { status, html } = await auditPage(query, cookie);
        expect(status, query).toBe(200);
        pages.push(html);
      }
    } finally {
      capture.stop();
    }
    const reveals = [...(pages[0] ?? "").matchAll(/<tr data-audit-id[\s\S]*?<\/tr>/g)]
      .map(([row]) => row)
      .filter((row) => row.includes("patient.reveal_phone"));
    expect(reveals).toHaveLength(1);
    expect(reveals[0]).toContain('<td class="mono">token:admin</td>');
    expect(reveals[0]).toContain(`href="/console/patients/${patientId}"`);
    expect(leakedCanaries(pages.join("\n"))).toEqual([]);
    expect(leakedCanaries(capture.output())).toEqual([]);
    expect(await auditRowsOf("patient", patientId)).toHaveLength(rowsBefore);
  });
});

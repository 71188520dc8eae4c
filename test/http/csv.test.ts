import { describe, expect, it } from "vitest";
import { MAX_CSV_COLUMNS, parseCsv, parseCsvRows } from "../../src/http/csv";
import { ApiError } from "../../src/http/errors";
import { adminJson } from "../helpers/admin";

const HEADER = "patient_id,phone,email,timezone,sms_opt_in,email_opt_in";

/** The ApiError `run` throws, so a test can assert on status, code and message together. */
function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected the CSV to be refused");
}

describe("parseCsv (RFC 4180)", () => {
  it("splits cells on commas and records on LF", () => {
    expect(parseCsv("a,b,c\n1,2,3")).toEqual([
      ["a", "b", "c"],
      ["1", "2", "3"],
    ]);
  });

  it("keeps commas and line breaks inside quotes, and unescapes doubled quotes", () => {
    expect(parseCsv('id,note\np1,"Suite 4, ""rear"" door\nsecond line"\n')).toEqual([
      ["id", "note"],
      ["p1", 'Suite 4, "rear" door\nsecond line'],
    ]);
    expect(parseCsv('""""')).toEqual([['"']]);
    expect(parseCsv('a,""')).toEqual([["a", ""]]);
  });

  it("accepts CRLF, LF and a lone CR as line ends", () => {
    const expected = [
      ["a", "b"],
      ["1", "2"],
      ["3", "4"],
    ];
    expect(parseCsv("a,b\r\n1,2\r\n3,4\r\n")).toEqual(expected);
    expect(parseCsv("a,b\r1,2\n3,4")).toEqual(expected);
  });

  it("ignores a leading byte-order mark but keeps one elsewhere", () => {
    expect(parseCsv("\uFEFFpatient_id,phone\np1,")).toEqual([
      ["patient_id", "phone"],
      ["p1", ""],
    ]);
    expect(parseCsv("a\n\uFEFFb")[1]).toEqual(["\uFEFFb"]);
  });

  it("adds no record for an empty trailing line, and keeps empty cells at the end of a record", () => {
    expect(parseCsv("a,b\n1,2\n")).toHaveLength(2);
    expect(parseCsv("a,b\n1,\n")).toEqual([
      ["a", "b"],
      ["1", ""],
    ]);
    expect(parseCsv("")).toEqual([]);
  });

  it("refuses a record wider than the bound, naming the line and not the content", () => {
    const wide = `${HEADER}\np1,${"x,".repeat(MAX_CSV_COLUMNS)}`;
    const error = refusal(() => parseCsv(wide));
    expect(error.status).toBe(400);
    expect(error.code).toBe("invalid_import");
    expect(error.message).toBe(`Line 2 of the CSV has more than ${MAX_CSV_COLUMNS} columns; a patient import has six.`);
    expect(parseCsv(`${"c,".repeat(MAX_CSV_COLUMNS - 1)}c`)[0]).toHaveLength(MAX_CSV_COLUMNS);
  });

  it("counts lines inside quoted cells when naming the line", () => {
    const error = refusal(() => parseCsv(`a\n"two\nlines"\n${",".repeat(MAX_CSV_COLUMNS)}`));
    expect(error.message).toMatch(/^Line 4 /);
  });

  it("refuses a header of 400,000 commas at the bound, before splitting the rest", () => {
    const error = refusal(() => parseCsv(",".repeat(400_000), 10));
    expect(error.message).toBe("Line 1 of the CSV has more than 10 columns; a patient import has six.");
    expect(refusal(() => parseCsvRows(",".repeat(400_000))).code).toBe("invalid_import");
  });
});

describe("parseCsvRows (the patient import's rows)", () => {
  it("keys cells by the trimmed, lower-cased header and reads consent values", () => {
    const rows = parseCsvRows(
      [
        " Patient_ID ,PHONE,email,timezone,sms_opt_in,email_opt_in",
        "p1,+14155550123,,America/Chicago,yes,0",
        "p2,,a@example.org,,N,TRUE",
      ].join("\r\n"),
    );
    expect(rows).toEqual([
      {
        patient_id: "p1",
        phone: "+14155550123",
        email: null,
        timezone: "America/Chicago",
        sms_opt_in: true,
        email_opt_in: false,
      },
      { patient_id: "p2", phone: null, email: "a@example.org", timezone: null, sms_opt_in: false, email_opt_in: true },
    ]);
  });

  it("passes an unreadable consent value on for validation, and leaves an empty one out", () => {
    const [row] = parseCsvRows(`${HEADER}\np1,,,,maybe,`);
    expect(row).toMatchObject({ sms_opt_in: "maybe", email_opt_in: undefined });
  });

  it("handles ragged rows: missing cells read as empty, cells beyond the header are ignored", () => {
    const rows = parseCsvRows(`${HEADER}\np1,+14155550123\np2,,,,true,true,extra,more`);
    expect(rows[0]).toEqual({
      patient_id: "p1",
      phone: "+14155550123",
      email: null,
      timezone: null,
      sms_opt_in: undefined,
      email_opt_in: undefined,
    });
    expect(rows[1]).toEqual({
      patient_id: "p2",
      phone: null,
      email: null,
      timezone: null,
      sms_opt_in: true,
      email_opt_in: true,
    });
  });

  it("skips blank lines and an empty trailing line; a header alone gives no rows", () => {
    expect(parseCsvRows(`${HEADER}\n\np1,,,,1,1\n , \n`)).toHaveLength(1);
    expect(parseCsvRows(`\uFEFF${HEADER}\r\n`)).toEqual([]);
  });
});

describe("POST /admin/patients/import with a hostile CSV", () => {
  it("answers 400 invalid_import for a header of 400,000 commas", async () => {
    const { status, body } = await adminJson("/patients/import", {
      method: "POST",
      headers: { "content-type": "text/csv" },
      body: `${",".repeat(400_000)}\np1`,
    });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: {
        code: "invalid_import",
        message: `Line 1 of the CSV has more than ${MAX_CSV_COLUMNS} columns; a patient import has six.`,
      },
    });
  });
});

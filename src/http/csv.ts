import { ApiError } from "./errors";

/**
 * The CSV reader of `POST /admin/patients/import`: RFC 4180 records (commas, CRLF or LF line ends,
 * double quotes escaped by doubling, a leading byte-order mark ignored) turned into one object per
 * row, keyed by the header row. Hand-written because it is small and the import needs one thing a
 * general parser does not give it: a bound on the width of a record that is checked while reading,
 * so a body of nothing but commas is refused after a hundred characters instead of being split into
 * 400,000 cells and then joined against every row.
 */

/**
 * The widest record accepted. The import knows six columns; spreadsheet exports often carry a few
 * more (names, notes), which are ignored, but no real directory export comes near a hundred.
 */
export const MAX_CSV_COLUMNS = 100;

/** Columns read as consent values (`true/false`, `yes/no`, `y/n`, `1/0`). */
const BOOLEAN_COLUMNS = new Set(["sms_opt_in", "email_opt_in"]);

/**
 * CSV with a header row naming the columns (`patient_id,phone,email,timezone,sms_opt_in,email_opt_in`,
 * in any order and case). Empty cells are null; consent columns become booleans; blank lines are
 * skipped; missing cells of a short row read as empty, and cells beyond the header are ignored.
 * @throws {ApiError} 400 `invalid_import` when a record is wider than {@link MAX_CSV_COLUMNS}.
 */
export function parseCsvRows(text: string): Record<string, unknown>[] {
  const records = parseCsv(text);
  const header = records.shift()?.map((name) => name.trim().toLowerCase()) ?? [];
  return records
    .filter((record) => record.some((cell) => cell.trim() !== ""))
    .map((record) => Object.fromEntries(header.map((name, index) => [name, csvValue(name, record[index])])));
}

function csvValue(column: string, raw: string | undefined): unknown {
  const value = (raw ?? "").trim();
  if (BOOLEAN_COLUMNS.has(column)) {
    if (/^(true|yes|1|y)$/i.test(value)) return true;
    if (/^(false|no|0|n)$/i.test(value)) return false;
    return value === "" ? undefined : value;
  }
  return value === "" ? null : value;
}

/**
 * RFC 4180 records of `text`, without interpretation: every cell a string, quotes removed.
 * @throws {ApiError} 400 `invalid_import` as soon as a record grows past `maxColumns` cells; the
 * message names the line, never a cell's content (an import carries PHI).
 */
export function parseCsv(text: string, maxColumns = MAX_CSV_COLUMNS): string[][] {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  const endCell = () => {
    if (record.length === maxColumns) {
      throw new ApiError(
        400,
        "invalid_import",
        `Line ${line} of the CSV has more than ${maxColumns} columns; a patient import has six.`,
      );
    }
    record.push(cell);
    cell = "";
  };
  for (let index = 0; index < body.length; index += 1) {
    const character = body.charAt(index);
    if (quoted) {
      if (character === '"' && body.charAt(index + 1) === '"') {
        cell += '"';
        index += 1;
      } else if (character === '"') quoted = false;
      else {
        if (character === "\n") line += 1;
        cell += character;
      }
    } else if (character === '"') quoted = true;
    else if (character === ",") endCell();
    else if (character === "\n" || character === "\r") {
      if (character === "\r" && body.charAt(index + 1) === "\n") index += 1;
      endCell();
      records.push(record);
      record = [];
      line += 1;
    } else cell += character;
  }
  // The last record, unless the text ended with its line break (an empty trailing line).
  if (cell !== "" || record.length > 0) {
    endCell();
    records.push(record);
  }
  return records;
}

import type { ArchivedRow, ArchivedTable } from "../db/archive";

/**
 * The archive's object format: gzipped NDJSON, one `{"table": ..., "row": {...}}` line per D1 row,
 * the row's columns exactly as D1 returned them. `zcat object | jq` reads it.
 */
export interface ArchiveLine {
  table: ArchivedTable;
  row: ArchivedRow;
}

/** The lines, gzipped (CompressionStream runs on workerd). */
export async function encodeLines(lines: readonly ArchiveLine[]): Promise<Uint8Array> {
  const text = lines.map((line) => `${JSON.stringify(line)}\n`).join("");
  const gzipped = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(gzipped).arrayBuffer());
}

/** An object's lines; throws on anything that is not gzipped NDJSON of archive lines. */
export async function decodeLines(body: ArrayBuffer): Promise<ArchiveLine[]> {
  const text = await new Response(new Blob([body]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const parsed = JSON.parse(line) as Partial<ArchiveLine> | null;
      if (!parsed || typeof parsed.table !== "string" || typeof parsed.row !== "object" || parsed.row === null) {
        throw new Error("archive object holds a line that is not an archived row");
      }
      return { table: parsed.table, row: parsed.row };
    });
}

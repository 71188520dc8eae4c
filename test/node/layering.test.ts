import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const src = path.join(root, "src");

/**
 * The layers of src/, top first. A module may import from its own layer and any layer below it,
 * never from a layer above: http/console → queue/scheduled → the domain folders → events → db → config → leaves.
 * The leaves import nothing of ours, so everything (and the Node tools) may use them.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["index.ts"],
  ["http/", "console/"],
  ["queue/", "scheduled/"],
  ["notify/", "archive/", "tenancy/", "outbox/", "watch/", "replay/", "search/", "forwarding/"],
  ["events/"],
  ["db/"],
  ["config/"],
  [
    "log.ts",
    "time-zone.ts",
    "duration.ts",
    "backoff.ts",
    "lazy.ts",
    "sha256.ts",
    "channels.ts",
    "event-types.ts",
    "queue/enqueue.ts",
  ],
];

/**
 * The rule for a new folder (docs/architecture.md, "Layering"): a top-level folder of src/ named in no
 * layer is a domain folder (a capability like notify/ or archive/), so it joins the domain layer:
 * above events/ and db/, below the adapters (queue/, scheduled/, http/, console/) that call it.
 */
const DOMAIN_LAYER = LAYERS.findIndex((prefixes) => prefixes.includes("notify/"));

/** The layer of a module (0 = top), by the longest matching prefix; a new folder's by the rule above. */
function layerOf(file: string): number {
  let best = { layer: -1, length: -1 };
  LAYERS.forEach((prefixes, layer) => {
    for (const prefix of prefixes) {
      if (file.startsWith(prefix) && prefix.length > best.length) best = { layer, length: prefix.length };
    }
  });
  if (best.layer < 0 && file.includes("/")) return DOMAIN_LAYER;
  return best.layer;
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    // Declarations (the generated worker-configuration.d.ts) are types, not modules of a layer.
    const module = /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts");
    return module ? [path.relative(src, full).split(path.sep).join("/")] : [];
  });
}

/** Every relative module a file imports or re-exports (static `from "./x"` and dynamic `import("./x")`). */
function relativeImports(file: string): string[] {
  const text = readFileSync(path.join(src, file), "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) => match[1]);
  return specifiers.flatMap((specifier) => {
    if (!specifier) return [];
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    return [/\.tsx?$/.test(target) ? target : `${target}.ts`];
  });
}

const files = sourceFiles(src);

describe("src/ layering", () => {
  it("places every module in a layer", () => {
    expect(files.filter((file) => layerOf(file) < 0)).toEqual([]);
  });

  it("has no import that goes up a layer", () => {
    const upward = files.flatMap((file) =>
      relativeImports(file)
        .filter((target) => layerOf(target) < layerOf(file))
        .map((target) => `${file} → ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it("keeps the leaves free of imports of our own", () => {
    const leaves = files.filter((file) => layerOf(file) === LAYERS.length - 1);
    expect(leaves.flatMap((file) => relativeImports(file).map((target) => `${file} → ${target}`))).toEqual([]);
  });

  it("puts a new top-level folder in the domain layer, and a new top-level file in none", () => {
    expect(layerOf("forwarding/deliver.ts")).toBe(DOMAIN_LAYER);
    expect(layerOf("forwarding/deliver.ts")).toBe(layerOf("notify/sender.ts"));
    expect(layerOf("forwarding/deliver.ts")).toBeLessThan(layerOf("db/outbox.ts"));
    expect(layerOf("forwarding/deliver.ts")).toBeGreaterThan(layerOf("queue/dispatch.ts"));
    // A folder no line of LAYERS names (consent/ today, any new one tomorrow) joins the domain layer.
    expect(layerOf("consent/unsubscribe-token.ts")).toBe(DOMAIN_LAYER);
    expect(layerOf("brand-new-capability/x.ts")).toBe(DOMAIN_LAYER);
    expect(layerOf("new-leaf.ts")).toBe(-1);
  });

  it("would catch an upward import (the check itself works)", () => {
    expect(layerOf("db/entities.ts")).toBeGreaterThan(layerOf("events/schemas.ts"));
    expect(layerOf("event-types.ts")).toBe(LAYERS.length - 1);
    expect(layerOf("events/schemas.ts")).toBe(4);
  });
});

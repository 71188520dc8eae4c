import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sparticuz from "@sparticuz/chromium";
import { type Browser, chromium, type Page } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = path.join(here, "screenshots");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Headless Chromium: a local Chrome when one is installed (CHROME_PATH, or /usr/bin/chromium), else
 * the binary inside @sparticuz/chromium, which needs nothing from the system or the network.
 */
export async function launchBrowser(): Promise<Browser> {
  const local = process.env.CHROME_PATH ?? (existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : undefined);
  if (local) return chromium.launch({ executablePath: local, headless: true });
  return chromium.launch({
    executablePath: await sparticuz.executablePath(),
    // --single-process cannot host more than one browser context.
    args: sparticuz.args.filter((arg) => arg !== "--single-process"),
    headless: true,
  });
}

/**
 * Records every console error, uncaught exception, failed request and HTTP error answer a page sees;
 * the tests assert the list stays empty.
 */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`),
  );
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return problems;
}

/** axe-core's serious and critical violations on the current page (run outside the page's CSP). */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // axe.run() with no context checks the whole document.
    const axe = (globalThis as unknown as { axe: { run: () => Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run()).violations as { id: string; impact: string | null; nodes: { target: string[] }[] }[];
  });
  return violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`,
    );
}

/** Saves a full-page screenshot under test/browser/screenshots/ (git-ignored) for review. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

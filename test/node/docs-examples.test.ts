import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.join(import.meta.dirname, "../..");
const pages = [
  "README.md",
  "bench/README.md",
  ...readdirSync(path.join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];
const text = (page: string) => readFileSync(path.join(root, page), "utf8");

describe("the docs' examples, for a newcomer copying them", () => {
  it.each(pages)("%s sends the admin token as $ADMIN_TOKEN, the variable README exports", (page) => {
    const bearers = [...text(page).matchAll(/Bearer \$\{?(\w+)/g)].map((match) => match[1]);
    expect(bearers.filter((name) => name !== "ADMIN_TOKEN")).toEqual([]);
  });

  it.each(pages)("%s uses the local receiver's default port 8787", (page) => {
    const ports = [...text(page).matchAll(/(?:localhost|127\.0\.0\.1):(\d+)/g)].map((match) => match[1]);
    // 9000 is the README's example of another port and docs/watch.md's local alert receiver.
    expect(ports.filter((port) => port !== "8787" && port !== "9000")).toEqual([]);
  });

  it("README says how to change the port, fire crons, and what local queues do not keep", () => {
    const readme = text("README.md");
    expect(readme).toContain("npm run dev -- --port 9000");
    expect(readme).toContain("/cdn-cgi/local/scheduled?cron=");
    expect(readme).toContain("/__scheduled?cron=");
    expect(readme).toContain("EBADENGINE");
    expect(readme).toMatch(/SMS_PROVIDER = "twilio"/);
  });
});

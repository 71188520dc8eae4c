import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { main } from "../../tools/novamed/cli.ts";
import { EXIT } from "../../tools/novamed/outcome.ts";
import {
  capture,
  closedPortUrl,
  type FakeServer,
  type RecordedRequest,
  type Reply,
  ROOT,
  runTool,
  startFakeServer,
} from "./fake-server.ts";

const API_KEY = "nm_test_CANARY_key_5f2a9c";
const CLINIC_ID = "550e8400-e29b-41d4-a716-446655440000";
const WEBHOOK_URL = "https://receiver.example.com/webhooks/novamed";
const WEBHOOK_ID = "660e8400-e29b-41d4-a716-446655440001";
const fixture = (name: string) => readFileSync(path.join(ROOT, "test/fixtures", name), "utf8");
const REGISTER_RESPONSE = fixture("register-response.json");
const DELETE_RESPONSE = fixture("delete-response.json");

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function fakeNovaMed(reply: Reply | (() => Reply)): Promise<FakeServer> {
  server = await startFakeServer(() => (typeof reply === "function" ? reply() : reply));
  return server;
}

/**
 * Runs the CLI in-process against `baseUrl` with the clinic given as flags and the key in
 * NOVAMED_API_KEY, as docs/tools.md recommends.
 */
async function run(args: string[], options: { baseUrl?: string; env?: Record<string, string> } = {}) {
  const out = capture();
  const connection = options.baseUrl ? ["--clinic-id", CLINIC_ID, "--base-url", options.baseUrl] : [];
  const env = options.baseUrl ? { NOVAMED_API_KEY: API_KEY, ...options.env } : (options.env ?? {});
  const code = await main([...args, ...connection], env, out.io);
  return { code, ...out };
}

/** Every failure: exactly one line on stderr, no stack trace, the key nowhere. */
function expectOneCleanLine(result: { stdout: string[]; stderr: string[] }) {
  expect(result.stderr).toHaveLength(1);
  expect(result.stderr[0]).not.toMatch(/\n|\s+at\s|Error:/);
  expect([...result.stdout, ...result.stderr].join("\n")).not.toContain(API_KEY);
}

/** A request to NovaMed's webhook API as the contract wants it: the path, the key, JSON both ways. */
function expectNovaMedJson(request: RecordedRequest) {
  expect(request.url).toBe("/api/external/webhook");
  expect(request.headers["x-api-key"]).toBe(API_KEY);
  expect(request.headers["content-type"]).toBe("application/json");
  expect(request.headers.accept).toBe("application/json");
}

describe("npm run novamed -- register", () => {
  it("POSTs the guide's request and prints the webhook_id", async () => {
    const api = await fakeNovaMed({ status: 200, body: REGISTER_RESPONSE });
    const result = await run(["register", "--url", WEBHOOK_URL], { baseUrl: api.url });

    expect(result.code).toBe(EXIT.ok);
    expect(api.requests).toHaveLength(1);
    const request = api.requests[0]!;
    expect(request.method).toBe("POST");
    expectNovaMedJson(request);
    expect(JSON.parse(request.body)).toEqual({ clinic_id: CLINIC_ID, webhook_url: WEBHOOK_URL });
    expect(result.stdout).toEqual([WEBHOOK_ID]);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toContain(`webhook_id ${WEBHOOK_ID}`);
    expect(result.stderr[0]).toContain(WEBHOOK_URL);
    expect(result.stderr.join("")).not.toContain(API_KEY);
  });

  it("prints NovaMed's answer as-is with --json", async () => {
    const api = await fakeNovaMed({ status: 200, body: REGISTER_RESPONSE });
    const result = await run(["register", "--url", WEBHOOK_URL, "--json"], { baseUrl: api.url });
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toEqual([REGISTER_RESPONSE.trim()]);
  });

  it("falls back to NOVAMED_API_KEY, NOVAMED_CLINIC_ID and NOVAMED_API_BASE_URL", async () => {
    const api = await fakeNovaMed({ status: 200, body: REGISTER_RESPONSE });
    const env = { NOVAMED_API_KEY: API_KEY, NOVAMED_CLINIC_ID: CLINIC_ID, NOVAMED_API_BASE_URL: api.url };
    const result = await run(["register", "--url", WEBHOOK_URL], { env });
    expect(result.code).toBe(EXIT.ok);
    expect(api.requests[0]!.headers["x-api-key"]).toBe(API_KEY);
    expect(JSON.parse(api.requests[0]!.body).clinic_id).toBe(CLINIC_ID);
  });

  it("lets flags win over environment variables", async () => {
    const api = await fakeNovaMed({ status: 200, body: REGISTER_RESPONSE });
    const env = {
      NOVAMED_API_KEY: "env-key-not-used",
      NOVAMED_CLINIC_ID: "11111111-2222-4333-8444-555555555555",
      NOVAMED_API_BASE_URL: "http://127.0.0.1:9/unused",
    };
    const result = await run(["register", "--url", WEBHOOK_URL, "--api-key", API_KEY], { baseUrl: api.url, env });
    expect(result.code).toBe(EXIT.ok);
    expect(api.requests[0]!.headers["x-api-key"]).toBe(API_KEY);
    expect(JSON.parse(api.requests[0]!.body).clinic_id).toBe(CLINIC_ID);
  });

  it("refuses a webhook URL that is not https, before calling NovaMed", async () => {
    const api = await fakeNovaMed({ status: 200, body: REGISTER_RESPONSE });
    for (const url of [
      "http://receiver.example.com/webhooks/novamed",
      "not a url",
      "ftp://x.example/webhooks/novamed",
    ]) {
      const result = await run(["register", "--url", url], { baseUrl: api.url });
      expect(result.code).toBe(EXIT.usage);
      expectOneCleanLine(result);
    }
    const http = await run(["register", "--url", "http://receiver.example.com/webhooks/novamed"], { baseUrl: api.url });
    expect(http.stderr[0]).toMatch(/https.*NovaMed does not send webhooks to HTTP/);
    expect(api.requests).toHaveLength(0);
  });

  it("refuses a plain-http NovaMed API except on this machine, before sending the key", async () => {
    for (const baseUrl of ["http://novamed.example.com", "http://10.0.0.8:8080", "http://localhost.evil.example"]) {
      let called = false;
      const out = capture();
      const code = await main(
        ["register", "--url", WEBHOOK_URL, "--clinic-id", CLINIC_ID, "--base-url", baseUrl],
        {
          NOVAMED_API_KEY: API_KEY,
        },
        {
          ...out.io,
          fetch: (async () => {
            called = true;
            return new Response("{}");
          }) as typeof fetch,
        },
      );
      expect(code).toBe(EXIT.usage);
      expect(out.stderr.join("\n")).toMatch(/--base-url must use https:\/\/ \(plain http:\/\/ only to localhost/);
      expect(called).toBe(false);
    }
    for (const baseUrl of ["http://localhost:9", "http://127.0.0.1:9", "http://[::1]:9"]) {
      const out = capture();
      const fetchStub = (async () =>
        new Response(REGISTER_RESPONSE, {
          status: 200,
          headers: { "content-type": "application/json" },
        })) as typeof fetch;
      const code = await main(
        ["register", "--url", WEBHOOK_URL, "--clinic-id", CLINIC_ID, "--base-url", baseUrl],
        {
          NOVAMED_API_KEY: API_KEY,
        },
        { ...out.io, fetch: fetchStub },
      );
      expect(code).toBe(EXIT.ok);
    }
  });

  it("warns, but registers, when the path is not /webhooks/novamed", async () => {
    const api = await fakeNovaMed({ status: 200, body: REGISTER_RESPONSE });
    const result = await run(["register", "--url", "https://receiver.example.com/hooks"], { baseUrl: api.url });
    expect(result.code).toBe(EXIT.ok);
    expect(result.stderr[0]).toMatch(/warning: .*\/webhooks\/novamed/);
  });
});

describe("npm run novamed -- delete", () => {
  it("DELETEs with {clinic_id, webhook_id}", async () => {
    const api = await fakeNovaMed({ status: 200, body: DELETE_RESPONSE });
    const result = await run(["delete", "--webhook-id", WEBHOOK_ID], { baseUrl: api.url });
    expect(result.code).toBe(EXIT.ok);
    const request = api.requests[0]!;
    expect(request.method).toBe("DELETE");
    expectNovaMedJson(request);
    expect(JSON.parse(request.body)).toEqual({ clinic_id: CLINIC_ID, webhook_id: WEBHOOK_ID });
    expect(result.stdout).toEqual([]);
    expect(result.stderr[0]).toContain(`Deleted webhook ${WEBHOOK_ID}`);
  });

  it("prints NovaMed's answer with --json", async () => {
    const api = await fakeNovaMed({ status: 200, body: DELETE_RESPONSE });
    const result = await run(["delete", "--webhook-id", WEBHOOK_ID, "--json"], { baseUrl: api.url });
    expect(result.stdout).toEqual([DELETE_RESPONSE.trim()]);
  });

  it("needs --webhook-id", async () => {
    const result = await run(["delete"], { baseUrl: "http://127.0.0.1:9" });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr[0]).toContain("--webhook-id");
  });
});

describe("choosing NovaMed's environment", () => {
  /** Runs register with a fetch that records the URL instead of leaving the machine. */
  async function urlFor(args: string[], env: Record<string, string> = {}) {
    const urls: string[] = [];
    const out = capture();
    const fetchStub = (async (input: string | URL | Request) => {
      urls.push(String(input));
      return new Response(REGISTER_RESPONSE, { status: 200, headers: { "content-type": "application/json" } });
    }) as typeof fetch;
    const code = await main(
      ["register", "--url", WEBHOOK_URL, "--clinic-id", CLINIC_ID, ...args],
      { NOVAMED_API_KEY: API_KEY, ...env },
      { ...out.io, fetch: fetchStub },
    );
    return { code, url: urls[0], stderr: out.stderr };
  }

  it("defaults to development", async () => {
    expect((await urlFor([])).url).toBe("https://novamed-feapidev.stackmod.info/api/external/webhook");
  });

  it("uses --env production and NOVAMED_ENV", async () => {
    expect((await urlFor(["--env", "production"])).url).toBe("https://feapi.novamed.care/api/external/webhook");
    expect((await urlFor([], { NOVAMED_ENV: "production" })).url).toBe(
      "https://feapi.novamed.care/api/external/webhook",
    );
    expect((await urlFor(["--env", "development"], { NOVAMED_ENV: "production" })).url).toBe(
      "https://novamed-feapidev.stackmod.info/api/external/webhook",
    );
  });

  it("lets --base-url override --env, keeping a path prefix and dropping a trailing slash", async () => {
    expect((await urlFor(["--env", "production", "--base-url", "https://proxy.example.com/novamed/"])).url).toBe(
      "https://proxy.example.com/novamed/api/external/webhook",
    );
  });

  it("names the environment in the summary", async () => {
    expect((await urlFor(["--env", "production"])).stderr[0]).toContain("production (https://feapi.novamed.care)");
  });

  it("rejects an unknown environment", async () => {
    const result = await urlFor(["--env", "staging"]);
    expect(result.code).toBe(EXIT.usage);
    expect(result.url).toBeUndefined();
    expect(result.stderr[0]).toContain("--env must be development or production");
  });
});

describe("NovaMed's failures", () => {
  const cases: Array<{ name: string; reply: Reply; code: number; says: RegExp; args?: string[] }> = [
    {
      name: "401",
      reply: { status: 401, body: '{"success":false,"message":"Invalid API key"}' },
      code: EXIT.unauthorized,
      says: /API key \(401\).*Invalid API key.*--api-key/,
    },
    {
      name: "403",
      reply: { status: 403, body: '{"success":false,"message":"Forbidden"}' },
      code: EXIT.rejected,
      says: /403.*--clinic-id/,
    },
    {
      name: "404 on delete",
      reply: { status: 404, body: '{"success":false,"message":"Webhook not found"}' },
      code: EXIT.rejected,
      says: /no such webhook \(404\).*--webhook-id/,
      args: ["delete", "--webhook-id", WEBHOOK_ID],
    },
    {
      name: "422",
      reply: { status: 422, body: '{"success":false,"message":"webhook_url is invalid"}' },
      code: EXIT.rejected,
      says: /rejected the request \(422\).*webhook_url is invalid/,
    },
    {
      name: "500",
      reply: { status: 500, body: '{"success":false,"message":"Internal error"}' },
      code: EXIT.serverError,
      says: /error \(500\).*try again/,
    },
    {
      name: "502 with an HTML page",
      reply: { status: 502, body: "<html>Bad gateway</html>", contentType: "text/html" },
      code: EXIT.serverError,
      says: /502/,
    },
    {
      name: "200 that is not JSON",
      reply: { status: 200, body: "<html>hello</html>", contentType: "text/html" },
      code: EXIT.unexpectedAnswer,
      says: /not JSON, text\/html.*--base-url/,
    },
    {
      name: "200 without webhook_id",
      reply: { status: 200, body: '{"success":true,"data":{}}' },
      code: EXIT.unexpectedAnswer,
      says: /without data\.webhook_id/,
    },
    {
      name: "success:false",
      reply: { status: 200, body: '{"success":false,"message":"Clinic is not active"}' },
      code: EXIT.unsuccessful,
      says: /did not register.*Clinic is not active/,
    },
    { name: "a redirect", reply: { status: 301, body: "" }, code: EXIT.unexpectedAnswer, says: /redirect \(301\)/ },
  ];

  for (const { name, reply, code, says, args } of cases) {
    it(`${name} → exit ${code}, one line that says what to do`, async () => {
      const api = await fakeNovaMed(reply);
      const result = await run(args ?? ["register", "--url", WEBHOOK_URL], { baseUrl: api.url });
      expect(result.code).toBe(code);
      expectOneCleanLine(result);
      expect(result.stderr[0]).toMatch(says);
    });
  }

  it("never prints the API key, even when NovaMed echoes it", async () => {
    const api = await fakeNovaMed({
      status: 401,
      body: JSON.stringify({ success: false, message: `bad key ${API_KEY}` }),
    });
    const result = await run(["register", "--url", WEBHOOK_URL, "--json"], { baseUrl: api.url });
    expect(result.code).toBe(EXIT.unauthorized);
    expect([...result.stdout, ...result.stderr].join("\n")).not.toContain(API_KEY);
    expect(result.stderr[0]).toContain("[api key]");
  });

  it("times out when NovaMed never answers (--timeout 0.2) → exit 6", async () => {
    const api = await fakeNovaMed("hang");
    const result = await run(["register", "--url", WEBHOOK_URL, "--timeout", "0.2"], { baseUrl: api.url });
    expect(result.code).toBe(EXIT.timeout);
    expectOneCleanLine(result);
    expect(result.stderr[0]).toMatch(/did not answer within 0\.2 s.*--timeout/);
  });

  it("reports an unreachable host (a closed port) → exit 7", async () => {
    const result = await run(["register", "--url", WEBHOOK_URL], { baseUrl: await closedPortUrl() });
    expect(result.code).toBe(EXIT.unreachable);
    expectOneCleanLine(result);
    expect(result.stderr[0]).toMatch(/cannot reach NovaMed .*refused.*--env\/--base-url/);
  });
});

describe("usage errors (exit 2, NovaMed not called)", () => {
  it("names the flag and the environment variable of a missing key or clinic id", async () => {
    const noKey = await run(["register", "--url", WEBHOOK_URL, "--clinic-id", CLINIC_ID]);
    expect(noKey.code).toBe(EXIT.usage);
    expect(noKey.stderr[0]).toMatch(/NOVAMED_API_KEY/);
    const noClinic = await run(["register", "--url", WEBHOOK_URL], { env: { NOVAMED_API_KEY: API_KEY } });
    expect(noClinic.code).toBe(EXIT.usage);
    expect(noClinic.stderr[0]).toMatch(/--clinic-id.*NOVAMED_CLINIC_ID/);
    expectOneCleanLine(noClinic);
  });

  it("requires the clinic id to be a UUID", async () => {
    const result = await run(["register", "--url", WEBHOOK_URL], {
      env: { NOVAMED_API_KEY: API_KEY, NOVAMED_CLINIC_ID: "clinic-1" },
    });
    expect(result.code).toBe(EXIT.usage);
    expect(result.stderr[0]).toContain("must be a UUID");
  });

  it("rejects unknown commands, unknown flags and the other command's flags", async () => {
    for (const args of [
      ["list"],
      [],
      ["register", "--url", WEBHOOK_URL, "--verbose"],
      ["register", "--webhook-id", "x"],
      ["register", "--url"],
      ["help", "nope"],
    ]) {
      const result = await run(args);
      expect(result.code, args.join(" ")).toBe(EXIT.usage);
      expectOneCleanLine(result);
      expect(result.stderr[0]).toContain("--help");
    }
  });
});

describe("--help", () => {
  it("describes the tool, its commands and exit codes", async () => {
    for (const args of [["--help"], ["-h"], ["help"]]) {
      const result = await run(args);
      expect(result.code).toBe(EXIT.ok);
      const text = result.stdout.join("\n");
      expect(text).toContain("register --url");
      expect(text).toContain("delete --webhook-id");
      expect(text).toContain("NOVAMED_API_KEY");
      expect(text).toMatch(/Exit codes:[\s\S]*3 {2}NovaMed rejected the API key/);
    }
  });

  it("has a page per command", async () => {
    const register = await run(["register", "--help"]);
    expect(register.code).toBe(EXIT.ok);
    expect(register.stdout.join("\n")).toMatch(/POST \/api\/external\/webhook[\s\S]*--url <https-url>/);
    const remove = await run(["help", "delete"]);
    expect(remove.stdout.join("\n")).toMatch(/DELETE \/api\/external\/webhook[\s\S]*--webhook-id <id>/);
  });
});

describe("as a real process (npm run novamed runs `node tools/novamed/cli.ts`)", () => {
  it("is pinned to one Node that strips TypeScript types: the `node` devDependency, as .nvmrc names it", () => {
    const manifest = JSON.parse(readFileSync(path.join(import.meta.dirname, "../../package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    const pinned = manifest.devDependencies.node ?? "";
    const [major, minor] = pinned.split(".").map(Number);
    // Type stripping without a flag and wrangler both need Node >= 22.12.
    expect(major! > 22 || (major === 22 && minor! >= 12), `node devDependency ${pinned}`).toBe(true);
    expect(readFileSync(path.join(import.meta.dirname, "../../.nvmrc"), "utf8").trim()).toBe(String(major));
  });

  it("exits 0 with help, 2 for an unknown command", async () => {
    const help = await runTool("tools/novamed/cli.ts", ["register", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--url <https-url>");
    const unknown = await runTool("tools/novamed/cli.ts", ["bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("exits 3 on a 401 and 7 on a closed port, with one line and no key", async () => {
    const api = await fakeNovaMed({ status: 401, body: '{"success":false,"message":"Unauthorized"}' });
    const env = { NOVAMED_API_KEY: API_KEY, NOVAMED_CLINIC_ID: CLINIC_ID };
    const rejected = await runTool(
      "tools/novamed/cli.ts",
      ["register", "--url", WEBHOOK_URL, "--base-url", api.url],
      env,
    );
    expect(rejected.code).toBe(3);
    expect(rejected.stderr.trim().split("\n")).toHaveLength(1);
    expect(rejected.stderr + rejected.stdout).not.toContain(API_KEY);

    const unreachable = await runTool(
      "tools/novamed/cli.ts",
      ["delete", "--webhook-id", WEBHOOK_ID, "--base-url", await closedPortUrl()],
      env,
    );
    expect(unreachable.code).toBe(7);
    expect(unreachable.stderr).not.toMatch(/\s+at\s/);
  });
});

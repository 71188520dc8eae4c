import { describe, expect, it } from "vitest";
import { readAdminIdentity } from "../../src/config/admin";
import { PUBLISHED_SECRET_VALUES } from "../../src/config/secret-rules";
import { configError, envWith } from "../helpers/config";

const STRONG = "a-strong-admin-token-of-40-characters-ok";
const AUDIENCE = "a".repeat(64);

describe("admin identity settings", () => {
  it("accept a strong token with the default actor, or a configured one", () => {
    expect(readAdminIdentity(envWith({ ADMIN_TOKEN: STRONG }))).toEqual({
      token: STRONG,
      tokenActor: "token:admin",
      access: null,
    });
    expect(readAdminIdentity(envWith({ ADMIN_TOKEN: STRONG, ADMIN_TOKEN_ACTOR: "token:ops" })).tokenActor).toBe(
      "token:ops",
    );
  });

  it.each([
    ["a token shorter than 32 characters", { ADMIN_TOKEN: "0123456789abcdef0123456789abcde" }, "ADMIN_TOKEN"],
    ["one repeated character", { ADMIN_TOKEN: "x".repeat(64) }, "ADMIN_TOKEN"],
    ["fewer than 8 distinct characters", { ADMIN_TOKEN: "abcdefg".repeat(6) }, "ADMIN_TOKEN"],
    ...PUBLISHED_SECRET_VALUES.map(
      (value) => [`the published value ${value}`, { ADMIN_TOKEN: value }, "ADMIN_TOKEN"] as const,
    ),
    ["neither a token nor Access", { ADMIN_TOKEN: undefined }, "ADMIN_TOKEN"],
    ["an actor that is not token:<name>", { ADMIN_TOKEN: STRONG, ADMIN_TOKEN_ACTOR: "ops" }, "ADMIN_TOKEN_ACTOR"],
    ["a team domain without audience", { ACCESS_TEAM_DOMAIN: "clinic.cloudflareaccess.com" }, "ACCESS_AUD"],
    ["an audience without team domain", { ACCESS_AUD: AUDIENCE }, "ACCESS_TEAM_DOMAIN"],
    ["a malformed audience", { ACCESS_TEAM_DOMAIN: "clinic", ACCESS_AUD: "not-a-tag" }, "ACCESS_AUD"],
    ["a foreign team domain", { ACCESS_TEAM_DOMAIN: "evil.example.com", ACCESS_AUD: AUDIENCE }, "ACCESS_TEAM_DOMAIN"],
  ] as const)("refuse %s, naming the variable and never the value", (_case, overrides, variable) => {
    const error = configError(() => readAdminIdentity(envWith(overrides as Record<string, string | undefined>)));
    expect(error.variable).toBe(variable);
    const token = (overrides as { ADMIN_TOKEN?: string }).ADMIN_TOKEN;
    if (token) expect(error.message).not.toContain(token);
  });

  it.each(["clinic", "clinic.cloudflareaccess.com", "https://clinic.cloudflareaccess.com/"])(
    "read Access from the team domain %s, with no token needed",
    (domain) => {
      expect(
        readAdminIdentity(envWith({ ADMIN_TOKEN: undefined, ACCESS_TEAM_DOMAIN: domain, ACCESS_AUD: AUDIENCE })),
      ).toEqual({
        token: null,
        tokenActor: "token:admin",
        access: {
          issuer: "https://clinic.cloudflareaccess.com",
          certsUrl: "https://clinic.cloudflareaccess.com/cdn-cgi/access/certs",
          audience: AUDIENCE,
        },
      });
    },
  );
});

import { z } from "zod";
import { optionalText, reportMissing, settingsReader } from "./read";

/** Cloudflare Access in front of `/admin` and `/console`: which team signs the JWT, for which application. */
export interface AccessSettings {
  /** `https://<team>.cloudflareaccess.com`: the JWT's expected `iss`. */
  issuer: string;
  /** The team's signing keys (JWKS). */
  certsUrl: string;
  /** The Access application's audience tag: the JWT's expected `aud`. */
  audience: string;
}

/** A team name, `<team>.cloudflareaccess.com`, or that with `https://` in front. */
const TEAM_DOMAIN = /^(?:https:\/\/)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.cloudflareaccess\.com)?\/?$/i;
/** Access audience tags are 64 hex characters. */
const AUDIENCE_TAG = /^[0-9a-f]{64}$/i;

const accessSchema = () =>
  z
    .object({
      ACCESS_TEAM_DOMAIN: optionalText().refine((value) => value === null || TEAM_DOMAIN.test(value), {
        error: "must be <team>.cloudflareaccess.com",
      }),
      ACCESS_AUD: optionalText().refine((value) => value === null || AUDIENCE_TAG.test(value), {
        error: "must be the Access application's audience tag (64 hex characters)",
      }),
    })
    .superRefine((vars, context) => {
      // Half an Access configuration would silently leave only the token path; refuse it instead.
      if (vars.ACCESS_TEAM_DOMAIN && !vars.ACCESS_AUD) reportMissing(context, "ACCESS_AUD", "is not set");
      if (vars.ACCESS_AUD && !vars.ACCESS_TEAM_DOMAIN) reportMissing(context, "ACCESS_TEAM_DOMAIN", "is not set");
    })
    .transform((vars): AccessSettings | null => {
      const team = vars.ACCESS_TEAM_DOMAIN ? TEAM_DOMAIN.exec(vars.ACCESS_TEAM_DOMAIN)?.[1] : undefined;
      if (!team || !vars.ACCESS_AUD) return null;
      const issuer = `https://${team.toLowerCase()}.cloudflareaccess.com`;
      return { issuer, certsUrl: `${issuer}/cdn-cgi/access/certs`, audience: vars.ACCESS_AUD.toLowerCase() };
    });

/** The Access settings, or null when Access is not configured; throws a ConfigError for half a setup. */
export const readAccessSettings = settingsReader(accessSchema);

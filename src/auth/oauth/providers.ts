// Google and Discord sign-in: the provider definitions and the two calls of the authorization-code flow.
// This is the ONLY file that imports arctic (pinned at 3.7.0; its author stopped developing it). We use its
// generic OAuth2Client with our configurable endpoints, not its Google/Discord classes, whose endpoints are fixed.
// What happens with the verified profile (rules L1–L9) is identity.ts's business, not this file's.
import { ArcticFetchError, CodeChallengeMethod, OAuth2Client, OAuth2RequestError, generateCodeVerifier, generateState } from "arctic";
import type { Config } from "../../config.ts";
import { withTimeout } from "../../lib/limit.ts";

export const PROVIDERS = ["google", "discord"] as const;
export type ProviderName = (typeof PROVIDERS)[number];
export const PROVIDER_LABEL: Record<ProviderName, string> = { google: "Google", discord: "Discord" };
export const isProviderName = (s: string): s is ProviderName => (PROVIDERS as readonly string[]).includes(s);

/** What a provider told us about the person who signed in. `emailVerified` is the provider's own statement. */
export type ProviderProfile = {
  provider: ProviderName;
  /** L1: the stable key (Google `sub`, Discord `id`). */
  providerUserId: string;
  email: string | null;
  /** Google `email_verified === true`, Discord `verified === true`; anything else is false (L2). */
  emailVerified: boolean;
  /** A display name to derive a username from for new accounts. */
  name: string;
};

export type Provider = {
  name: ProviderName;
  label: string;
  client: OAuth2Client;
  authUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
  scopes: string[];
  parseProfile(info: Record<string, unknown>): ProviderProfile | null;
};

const str = (v: unknown) => (typeof v === "string" ? v : "");

/** The callback URL to register at the provider. Built from PUBLIC_URL, never from the request. */
export const redirectUri = (config: Pick<Config, "PUBLIC_URL">, name: ProviderName) => `${config.PUBLIC_URL}/api/v1/auth/${name}/callback`;

/** The provider, or null when it is not configured: a provider is on only when its client id and secret are set. */
export function getProvider(config: Config, name: ProviderName): Provider | null {
  if (name === "google") {
    if (!config.GOOGLE_CLIENT_ID || !config.GOOGLE_CLIENT_SECRET) return null;
    return {
      name,
      label: PROVIDER_LABEL.google,
      client: new OAuth2Client(config.GOOGLE_CLIENT_ID, config.GOOGLE_CLIENT_SECRET, redirectUri(config, name)),
      authUrl: config.GOOGLE_AUTH_URL,
      tokenUrl: config.GOOGLE_TOKEN_URL,
      userinfoUrl: config.GOOGLE_USERINFO_URL,
      scopes: ["openid", "email", "profile"],
      // OpenID Connect userinfo: sub, email, email_verified, name.
      parseProfile: (info) => {
        const sub = str(info.sub);
        if (!sub) return null;
        const email = str(info.email).trim().toLowerCase() || null;
        return {
          provider: name,
          providerUserId: sub,
          email,
          emailVerified: email !== null && info.email_verified === true,
          name: str(info.name) || str(info.given_name),
        };
      },
    };
  }
  if (!config.DISCORD_CLIENT_ID || !config.DISCORD_CLIENT_SECRET) return null;
  return {
    name,
    label: PROVIDER_LABEL.discord,
    client: new OAuth2Client(config.DISCORD_CLIENT_ID, config.DISCORD_CLIENT_SECRET, redirectUri(config, name)),
    authUrl: config.DISCORD_AUTH_URL,
    tokenUrl: config.DISCORD_TOKEN_URL,
    userinfoUrl: config.DISCORD_USERINFO_URL,
    scopes: ["identify", "email"],
    // GET /users/@me: id, username, global_name, email, verified.
    parseProfile: (info) => {
      const id = typeof info.id === "string" || typeof info.id === "number" ? String(info.id) : "";
      if (!id) return null;
      const email = str(info.email).trim().toLowerCase() || null;
      return {
        provider: name,
        providerUserId: id,
        email,
        emailVerified: email !== null && info.verified === true,
        name: str(info.username) || str(info.global_name),
      };
    },
  };
}

/** A fresh flow secret pair: state and PKCE verifier, 256 bits each from the CSPRNG. */
export function newFlowSecrets() {
  return { state: generateState(), codeVerifier: generateCodeVerifier() };
}

/** Where to send the browser: the provider's authorization endpoint with state and the S256 PKCE challenge. */
export function authorizationUrl(provider: Provider, state: string, codeVerifier: string): URL {
  return provider.client.createAuthorizationURLWithPKCE(provider.authUrl, state, CodeChallengeMethod.S256, codeVerifier, provider.scopes);
}

export type ProfileResult = { ok: true; profile: ProviderProfile } | { ok: false; message: string };

const PROVIDER_TIMEOUT_MS = 15_000;

/**
 * Exchanges the authorization code (with the PKCE verifier) for an access token, then reads the user-info
 * endpoint. Only called after the caller checked the state against the flow cookie. Failures are returned, with
 * a message fit for the person in the browser (details go to the log by the caller).
 */
export async function fetchProfile(provider: Provider, code: string, codeVerifier: string): Promise<ProfileResult & { detail?: string }> {
  let accessToken: string;
  try {
    const tokens = await withTimeout(provider.client.validateAuthorizationCode(provider.tokenUrl, code, codeVerifier), PROVIDER_TIMEOUT_MS);
    accessToken = tokens.accessToken();
  } catch (err) {
    const detail =
      err instanceof OAuth2RequestError
        ? `${err.code}: ${err.description ?? ""}`
        : err instanceof ArcticFetchError
          ? `fetch failed: ${String(err.cause)}`
          : String(err);
    return { ok: false, message: `${provider.label} did not accept the sign-in (the code was refused or expired). Please try again.`, detail };
  }
  try {
    const res = await fetch(provider.userinfoUrl, {
      headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    });
    if (!res.ok)
      return { ok: false, message: `${provider.label} did not give us your account details. Please try again.`, detail: `userinfo status ${res.status}` };
    const info = (await res.json()) as unknown;
    const profile = info && typeof info === "object" ? provider.parseProfile(info as Record<string, unknown>) : null;
    if (!profile)
      return { ok: false, message: `${provider.label} sent account details we could not read. Please try again.`, detail: "userinfo without an account id" };
    return { ok: true, profile };
  } catch (err) {
    return { ok: false, message: `${provider.label} could not be reached. Please try again.`, detail: String(err) };
  }
}

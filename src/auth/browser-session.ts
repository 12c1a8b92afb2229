// The browser session of the server's own pages (/signin, /device, and the OAuth pages that need a signed-in
// user). It is an ordinary session from createSession (so it shows in GET /auth/sessions and dies with logout-all,
// password resets and every other revocation), carried in a cookie:
//   - the cookie holds the session's access token (JWT). Every page request runs the same check as the API guard
//     (signature, expiry, and that the session is still live), so revocation is immediate;
//   - the refresh token is thrown away: a browser session cannot be extended and ends with its access token
//     (ACCESS_TOKEN_TTL_S, 24 h by default);
//   - HttpOnly (no script reads it), SameSite=Lax (sent on top-level navigations such as a link from an email or
//     the plugin, never on cross-site POSTs; every form is CSRF-protected anyway), Secure when PUBLIC_URL is https.
// The API only reads `Authorization: Bearer`, never this cookie, so the API cannot be driven by CSRF through it.
import type { Deps } from "../deps.ts";
import { ApiError } from "../http/errors.ts";
import { readCookie } from "../web/layout.ts";
import { authenticateToken, type Auth } from "./guard.ts";
import { createSession, revokeSession, type ClientInfo } from "./sessions.ts";

export const SESSION_COOKIE = "sc_session";

const secureFlag = (deps: Deps) => (deps.config.PUBLIC_URL.startsWith("https://") ? "; Secure" : "");

/** The signed-in user of a page request, or null (no cookie, bad or expired token, revoked session). */
export async function readBrowserSession(deps: Deps, request: Request): Promise<Auth | null> {
  const token = readCookie(request, SESSION_COOKIE);
  if (!token) return null;
  try {
    return await authenticateToken(deps, token);
  } catch (err) {
    if (err instanceof ApiError) return null;
    throw err;
  }
}

/** Creates a session for a user who just proved a password; returns the Set-Cookie value that carries it. */
export async function startBrowserSession(deps: Deps, userId: string, client: ClientInfo): Promise<string> {
  const tokens = await createSession(deps, userId, client);
  return `${SESSION_COOKIE}=${tokens.token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${deps.config.ACCESS_TOKEN_TTL_S}${secureFlag(deps)}`;
}

/** Revokes the request's browser session if there is one; returns the Set-Cookie value that clears the cookie. */
export async function endBrowserSession(deps: Deps, request: Request): Promise<string> {
  const auth = await readBrowserSession(deps, request);
  if (auth) await revokeSession(deps, auth.user.id, auth.session.id, "logout");
  return clearBrowserSessionCookie(deps);
}

export const clearBrowserSessionCookie = (deps: Deps) => `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secureFlag(deps)}`;

/**
 * A post-sign-in destination: only a relative path on this server ("/device?code=..."), never "//host",
 * "/\host" or an absolute URL (no open redirect). Returns null for anything else.
 */
export function safeNext(next: unknown): string | null {
  if (typeof next !== "string" || next.length > 1000 || !next.startsWith("/") || next.startsWith("//")) return null;
  // Backslashes and control characters are read as "/" or dropped by browsers: refuse them outright.
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return null;
  const base = "http://sidechain.invalid";
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return null;
  }
  if (url.origin !== base) return null;
  return url.pathname + url.search;
}

/** Where a page sends a visitor who must sign in first, coming back to `next` afterwards. */
export const signInPath = (next: string) => `/signin?next=${encodeURIComponent(next)}`;

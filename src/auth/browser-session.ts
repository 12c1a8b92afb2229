// The browser session of the server's own pages (/signin, /device, and the OAuth link flow that needs a signed-in
// user), docs/security.md, Sessions. It is an ordinary session from createSession (so it shows in
// GET /auth/sessions and dies with logout-all, password resets and every other revocation), carried in a cookie:
//   - the cookie holds a token of its own type ("browser"), minted only here. The API refuses it as a Bearer token
//     and this cookie refuses API access tokens, so a stolen access token cannot drive the pages (approving a
//     device, linking a provider). Every page request runs the guard's check (signature, expiry, and that the
//     session is still live), so revocation is immediate;
//   - the refresh token is thrown away: a browser session cannot be extended and ends with its token
//     (ACCESS_TOKEN_TTL_S, 24 h by default);
//   - HttpOnly (no script reads it), SameSite=Lax (sent on top-level navigations such as a link from an email or
//     the plugin, never on cross-site POSTs; every form is CSRF-protected anyway), Secure when PUBLIC_URL is https.
import type { Deps } from "../deps.ts";
import { clearCookie, readCookie, setCookie } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { authenticateToken, type Auth } from "./guard.ts";
import { createSession, revokeSession, type ClientInfo } from "./sessions.ts";

export const SESSION_COOKIE = "sc_session";

/** The signed-in user of a page request, or null (no cookie, bad or expired token, revoked session). */
export async function readBrowserSession(deps: Deps, request: Request): Promise<Auth | null> {
  const token = readCookie(request, SESSION_COOKIE);
  if (!token) return null;
  try {
    return await authenticateToken(deps, token, "browser");
  } catch (err) {
    if (err instanceof ApiError) return null;
    throw err;
  }
}

/**
 * Creates a browser session for a user who just proved a credential in this browser (a password at /signin, or a
 * Google/Discord web sign-in) and returns the Set-Cookie value that carries it. The browser's previous session, if
 * any, is revoked: a new sign-in replaces it rather than leaving it alive.
 */
export async function startBrowserSession(deps: Deps, request: Request, userId: string, client: ClientInfo): Promise<string> {
  const previous = await readBrowserSession(deps, request);
  if (previous) await revokeSession(deps, previous.user.id, previous.session.id, "logout");
  const tokens = await createSession(deps, userId, client, undefined, { tokenType: "browser" });
  return browserSessionCookie(deps, tokens.token);
}

/**
 * The same for a session that was created with the account (registration from the web app, whose service makes
 * the session in the account's transaction with { tokenType: "browser" }): the browser's previous session is
 * revoked and the cookie carries the new token.
 */
export async function adoptBrowserSession(deps: Deps, request: Request, browserToken: string): Promise<string> {
  const previous = await readBrowserSession(deps, request);
  if (previous) await revokeSession(deps, previous.user.id, previous.session.id, "logout");
  return browserSessionCookie(deps, browserToken);
}

const browserSessionCookie = (deps: Deps, token: string) =>
  setCookie(deps.config.PUBLIC_URL, SESSION_COOKIE, token, { maxAgeS: deps.config.ACCESS_TOKEN_TTL_S });

/** Revokes the request's browser session if there is one; returns the Set-Cookie value that clears the cookie. */
export async function endBrowserSession(deps: Deps, request: Request): Promise<string> {
  const auth = await readBrowserSession(deps, request);
  if (auth) await revokeSession(deps, auth.user.id, auth.session.id, "logout");
  return clearBrowserSessionCookie(deps);
}

export const clearBrowserSessionCookie = (deps: Deps) => clearCookie(deps.config.PUBLIC_URL, SESSION_COOKIE);

/** Where a page sends a visitor who must sign in first, coming back to `next` afterwards. */
export const signInPath = (next: string) => `/signin?next=${encodeURIComponent(next)}`;

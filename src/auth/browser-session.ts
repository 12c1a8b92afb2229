// The browser session of the server's own pages (/signin, /device, and the OAuth link flow that needs a signed-in
// user), docs/security.md, Sessions. It is an ordinary session from createSession (so it shows in
// GET /auth/sessions and dies with logout-all, password resets and every other revocation), carried in a cookie:
//   - the cookie holds a token of its own type ("browser"), minted only here. The API refuses it as a Bearer token
//     and this cookie refuses API access tokens, so a stolen access token cannot drive the pages (approving a
//     device, linking a provider). Every page request runs the guard's check (signature, expiry, and that the
//     session is still live), so revocation is immediate;
//   - the refresh token is thrown away; instead the cookie rolls: its token lives as long as the session could
//     without use (SESSION_IDLE_TTL_S, never past SESSION_MAX_TTL_S after sign-in), and a page request whose token
//     is older than ACCESS_TOKEN_TTL_S gets a new one (renewBrowserSession, answered by browserSessionRenewal), so
//     a producer who comes back stays signed in exactly as long as the session lives;
//   - HttpOnly (no script reads it), SameSite=Lax (sent on top-level navigations such as a link from an email or
//     the plugin, never on cross-site POSTs; every form is CSRF-protected anyway), Secure when PUBLIC_URL is https.
import { Elysia } from "elysia";
import type { Deps } from "../deps.ts";
import { clearCookie, readCookie, setCookie } from "../http/cookies.ts";
import { ApiError } from "../http/errors.ts";
import { type Auth, liveSessionOf, verifiedClaims } from "./guard.ts";
import { createSession, revokeSession, signBrowserToken, type ClientInfo } from "./sessions.ts";

export const SESSION_COOKIE = "sc_session";

/** The Set-Cookie that renews a request's browser session, when its token was due (see browserSessionRenewal). */
const renewals = new WeakMap<Request, string>();

/**
 * The signed-in user of a page request, or null (no cookie, bad or expired token, revoked session). A token older
 * than ACCESS_TOKEN_TTL_S is replaced: the new cookie goes out with this request's answer.
 */
export async function readBrowserSession(deps: Deps, request: Request): Promise<Auth | null> {
  const token = readCookie(request, SESSION_COOKIE);
  if (!token) return null;
  try {
    const claims = await verifiedClaims(deps, token, "browser");
    const auth = await liveSessionOf(deps, claims);
    const due = claims.issuedAt !== undefined && deps.clock.now() - claims.issuedAt >= deps.config.ACCESS_TOKEN_TTL_S * 1000;
    if (due && !renewals.has(request)) {
      const next = await signBrowserToken(deps, auth.session);
      renewals.set(request, browserSessionCookie(deps, next.token, next.expiresAt));
    }
    return auth;
  } catch (err) {
    if (err instanceof ApiError) return null;
    throw err;
  }
}

/**
 * Sends the renewed cookie of readBrowserSession with the answer (registered once, for every route; API requests
 * never read the cookie, so they never have one). An answer that sets sc_session itself (sign-in, sign-out) wins.
 */
export const browserSessionRenewal = () =>
  new Elysia({ name: "browser-session-renewal" }).onAfterHandle({ as: "global" }, ({ request, response, set }) => {
    const cookie = renewals.get(request);
    if (!cookie) return;
    const setsSession = (values: string[]) => values.some((v) => v.startsWith(`${SESSION_COOKIE}=`));
    if (response instanceof Response) {
      if (setsSession(response.headers.getSetCookie())) return;
      const headers = new Headers(response.headers);
      headers.append("set-cookie", cookie);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }
    const current = set.headers["set-cookie"];
    const list = current === undefined ? [] : Array.isArray(current) ? current : [current];
    if (!setsSession(list)) set.headers["set-cookie"] = [...list, cookie] as never;
  });

/**
 * Creates a browser session for a user who just proved a credential in this browser (a password at /signin, or a
 * Google/Discord web sign-in) and returns the Set-Cookie value that carries it. The browser's previous session, if
 * any, is revoked: a new sign-in replaces it rather than leaving it alive.
 */
export async function startBrowserSession(deps: Deps, request: Request, userId: string, client: ClientInfo): Promise<string> {
  const previous = await readBrowserSession(deps, request);
  if (previous) await revokeSession(deps, previous.user.id, previous.session.id, "logout");
  const tokens = await createSession(deps, userId, client, undefined, { tokenType: "browser" });
  return browserSessionCookie(deps, tokens.token, new Date(tokens.expires_at));
}

/**
 * The same for a session that was created with the account (registration from the web app, whose service makes
 * the session in the account's transaction with { tokenType: "browser" }): the browser's previous session is
 * revoked and the cookie carries the new token.
 */
export async function adoptBrowserSession(deps: Deps, request: Request, browser: { token: string; expires_at: string }): Promise<string> {
  const previous = await readBrowserSession(deps, request);
  if (previous) await revokeSession(deps, previous.user.id, previous.session.id, "logout");
  return browserSessionCookie(deps, browser.token, new Date(browser.expires_at));
}

/** The cookie carrying a browser token, kept by the browser exactly as long as the token is valid. */
const browserSessionCookie = (deps: Deps, token: string, expiresAt: Date) =>
  setCookie(deps.config.PUBLIC_URL, SESSION_COOKIE, token, { maxAgeS: Math.max(0, Math.ceil((expiresAt.getTime() - deps.clock.now()) / 1000)) });

/** Revokes the request's browser session if there is one; returns the Set-Cookie value that clears the cookie. */
export async function endBrowserSession(deps: Deps, request: Request): Promise<string> {
  const auth = await readBrowserSession(deps, request);
  if (auth) await revokeSession(deps, auth.user.id, auth.session.id, "logout");
  return clearBrowserSessionCookie(deps);
}

export const clearBrowserSessionCookie = (deps: Deps) => clearCookie(deps.config.PUBLIC_URL, SESSION_COOKIE);

/** Where a page sends a visitor who must sign in first, coming back to `next` afterwards. */
export const signInPath = (next: string) => `/signin?next=${encodeURIComponent(next)}`;

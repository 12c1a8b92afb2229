// What every web app route needs from a request (docs/architecture.md "Web app"): who is signed in (the HttpOnly
// browser-session cookie, auth/browser-session.ts), the header's view of them, the form CSRF token (double-submit
// cookie, web/layout.ts), and how a browser write answers: JSON to the client script (it sends
// `accept: application/json` and the token in `x-csrf-token`), a 303 back to the page for a plain form post.
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import type { Auth } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { isStaff } from "../users/service.ts";
import { readCookie } from "../http/cookies.ts";
import { type Accepts, bodyKind } from "../http/body.ts";
import type { TSchema } from "@sinclair/typebox";
import { ApiError, ErrorSchema, errors } from "../http/errors.ts";
import { safeRedirectPath } from "../http/redirect.ts";
import { safeEqual } from "../lib/crypto.ts";
import { notificationCounts } from "../social/notifications.ts";
import { CSRF_COOKIE, csrfFor } from "./layout.ts";
import type { Viewer } from "./shell.tsx";

/** The header's view of the signed-in user (null when signed out). */
export async function viewerOf(deps: Deps, auth: Auth | null): Promise<Viewer> {
  if (!auth) return null;
  const { unseen } = await notificationCounts(deps, auth.user.id);
  const u = auth.user;
  return { id: u.id, username: u.username, displayName: u.displayName, avatarUrl: u.avatarKey ? deps.mediaUrl(u.avatarKey) : "", unseen, staff: isStaff(u) };
}

export type PageContext = {
  auth: Auth | null;
  viewer: Viewer;
  /** The form token, and the Set-Cookie that carries it when the browser had none yet (pass it to withCookies). */
  csrf: { token: string; setCookie?: string };
};

/** The signed-in user, their header view and a CSRF token, for a page that shows forms. */
export async function pageContext(deps: Deps, request: Request): Promise<PageContext> {
  const auth = await readBrowserSession(deps, request);
  return { auth, viewer: await viewerOf(deps, auth), csrf: csrfFor(request, deps.config.PUBLIC_URL) };
}

export const wantsJson = (request: Request) => (request.headers.get("accept") ?? "").includes("application/json");

/** True when the form's `csrf` field or the `x-csrf-token` header matches the CSRF cookie. */
export function csrfValid(request: Request, form: Record<string, unknown>): boolean {
  const cookie = readCookie(request, CSRF_COOKIE);
  const sent = typeof form.csrf === "string" && form.csrf ? form.csrf : (request.headers.get("x-csrf-token") ?? "");
  return Boolean(cookie && sent && safeEqual(cookie, sent));
}

/** A 303 to a path on this server (the one redirect guard, src/http/redirect.ts), or `fallback`. */
export function seeOther(location: string, fallback = "/"): Response {
  return new Response(null, { status: 303, headers: { location: safeRedirectPath(location) ?? fallback, "cache-control": "no-store" } });
}

/** Who sends a browser write (null when signed out); 403 csrf_failed without a valid CSRF token. */
export async function browserWriter(deps: Deps, request: Request, form: Record<string, unknown>): Promise<Auth | null> {
  if (!csrfValid(request, form)) throw errors.forbidden("csrf_failed", "This form has expired or did not come from this site; reload the page");
  return readBrowserSession(deps, request);
}

/**
 * Runs a browser write: refuses it without a valid CSRF token (403) or signed out (401, or to the sign-in page
 * for a plain form), runs `act`, and answers JSON to the script or a 303 back to `back` for a plain form. An
 * ApiError from the service is the contract's JSON for the script, and for a plain form a 303 back with the page
 * unchanged (the form's page shows the current state), or to `opts.onError(err)` (a page that shows the message).
 */
export async function browserAction<T>(
  deps: Deps,
  request: Request,
  form: Record<string, unknown>,
  back: string,
  act: (auth: Auth) => Promise<T>,
  opts: { onError?: (err: ApiError) => string } = {},
): Promise<Response> {
  const json = wantsJson(request);
  try {
    const auth = await browserWriter(deps, request, form);
    if (!auth) {
      if (!json) return seeOther(signInPath(back));
      throw errors.unauthorized("unauthorized", "Sign in first");
    }
    const result = await act(auth);
    return json ? Response.json(result, { headers: { "cache-control": "no-store" } }) : seeOther(back);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return json ? err.toResponse({ "cache-control": "no-store" }) : seeOther(opts.onError?.(err) ?? back);
  }
}

/** A parsed urlencoded form (the body parser's object), as the web routes read it. */
export type Form = Record<string, unknown>;

/** The request body as a form: an object, or empty for anything else. */
export const asForm = (body: unknown): Form => (body && typeof body === "object" && !Array.isArray(body) ? (body as Form) : {});

/** A form field as text, at most `max` characters; "" when absent or not text. */
export const formText = (v: unknown, max = 1024): string => (typeof v === "string" ? v.slice(0, max) : "");

/** For the multipart form routes (upload, picture): a body of another kind is 415 before anything else is done,
 *  as the API's uploads answer; null when the body is what the route takes. */
export function refuseOtherBodies(request: Request, accepts: Pick<Accepts, "kinds">): Response | null {
  try {
    bodyKind(request, accepts);
    return null;
  } catch (err) {
    if (err instanceof ApiError) return err.toResponse({ "cache-control": "no-store" });
    throw err;
  }
}

/** The OpenAPI entry of a browser write (tag "web"): what it does, its JSON answer, and how every one of them is called. */
export const browserActionDoc = (summary: string, ok: TSchema) => ({
  response: { 200: ok, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema },
  detail: {
    tags: ["web"] as string[],
    summary,
    description:
      "The web app's form action, signed in by the browser-session cookie (never a Bearer token) with the CSRF token in the " +
      "`csrf` field or the `x-csrf-token` header. With `accept: application/json` it answers JSON or the contract's error; " +
      "a plain form post gets a 303 back to the page.",
  },
});

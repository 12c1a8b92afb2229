// The account pages (mail links, sign-in flows, web/pages.ts and auth/oauth/pages.ts) in the web app's frame
// (web/shell.tsx: the header with the instance's name, the one stylesheet, a narrow column), without the script:
// their CSP allows this origin's stylesheet, images and manifest and nothing else (no script, no inline style),
// they send no Referer (token pages carry secrets in their URL) and are never cached.
// Forms are protected with a double-submit CSRF token: a random value in a SameSite=Strict HttpOnly cookie and
// the same value in a hidden field; a POST whose two values differ is refused.
import { readCookie, setCookie } from "../http/cookies.ts";
import { randomToken, safeEqual } from "../lib/crypto.ts";
import { Shell } from "./shell.tsx";

export const esc = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The account pages' CSP: the stylesheet, images and the manifest from this origin; no script at all. */
export const ACCOUNT_PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export type Instance = { name: string; description: string };
const DEFAULT_INSTANCE: Instance = { name: "Sidechain", description: "" };

export type PageOptions = { title: string; body: string; status?: number; headers?: Record<string, string>; instance?: Instance };

/** An account page: `body` is our own rendered HTML (every value in it escaped with esc()). */
export function page({ title, body, status = 200, headers = {}, instance = DEFAULT_INSTANCE }: PageOptions): Response {
  const html = Shell({ title, instance, viewer: null, path: "", narrow: true, scriptless: true, children: `<section class="account card">${body}</section>` });
  return new Response(`<!doctype html>${html as string}`, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": ACCOUNT_PAGE_CSP,
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

export const CSRF_COOKIE = "sc_csrf";

/** How long a CSRF cookie lives after the last page that showed a form: a page left open for a day still posts. */
export const CSRF_MAX_AGE_S = 86_400;

/**
 * A CSRF token for a form: the cookie's value when present, else a new one. The cookie is set either way, so its
 * lifetime runs from the newest page (a page loaded just before an older cookie expired would otherwise post a
 * token the browser no longer sends).
 */
export function csrfFor(request: Request, publicUrl: string): { token: string; setCookie: string } {
  const existing = readCookie(request, CSRF_COOKIE);
  const token = existing && existing.length >= 32 ? existing : randomToken();
  return { token, setCookie: setCookie(publicUrl, CSRF_COOKIE, token, { maxAgeS: CSRF_MAX_AGE_S, sameSite: "strict" }) };
}

/** True when the form's csrf field matches the cookie. */
export function csrfOk(request: Request, form: Record<string, unknown>): boolean {
  const cookie = readCookie(request, CSRF_COOKIE);
  const field = typeof form.csrf === "string" ? form.csrf : "";
  return Boolean(cookie && field && safeEqual(cookie, field));
}

export const csrfField = (token: string) => `<input type="hidden" name="csrf" value="${esc(token)}">`;

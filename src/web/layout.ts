// Server-rendered pages (mail links, sign-in flows): plain HTML with inline CSS, no external assets, readable on a
// phone. Every page gets a strict CSP and no-referrer (token pages carry secrets in their URL).
// Forms are protected with a double-submit CSRF token: a random value in a SameSite=Strict HttpOnly cookie and
// the same value in a hidden field; a POST whose two values differ is refused.
import { readCookie, setCookie } from "../http/cookies.ts";
import { randomToken, safeEqual } from "../lib/crypto.ts";

export const esc = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const CSS =
  `*{box-sizing:border-box}body{margin:0;font:16px/1.5 ` +
  `system-ui,-apple-system,sans-serif;background:#111318;color:#e8e8ee;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{width:100%;max-width:26rem;padding:1.5rem}h1{font-size:1.4rem;margin:0 0 1rem}p{margin:.5rem 0 1rem;color:#b8b8c4}
label{display:block;margin:.75rem 0 .25rem;font-size:.9rem}
input{width:100%;padding:.7rem;border-radius:.5rem;border:1px solid #3a3d48;background:#1b1e26;color:inherit;font-size:1rem}
button,.button{display:inline-block;width:100%;margin-top:1rem;padding:.75rem;border:0;border-radius:.5rem;background:#7c5cff;color:#fff;
font-size:1rem;text-align:center;text-decoration:none;cursor:pointer}
button.secondary,.button.secondary{background:#2a2d38}.error{color:#ff8a8a}.ok{color:#8affb0}
.brand{font-weight:700;letter-spacing:.05em;color:#7c5cff;margin-bottom:1rem}
code{font-size:1.3rem;letter-spacing:.2em}`;

export type PageOptions = { title: string; body: string; status?: number; headers?: Record<string, string> };

export function page({ title, body, status = 200, headers = {} }: PageOptions): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Sidechain</title><style>${CSS}</style></head><body><main><div class="brand">SIDECHAIN</div>${body}</main></body></html>`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

export const CSRF_COOKIE = "sc_csrf";

/** A CSRF token for a form: reuses the cookie's value when present, else makes one and sets the cookie. */
export function csrfFor(request: Request, publicUrl: string): { token: string; setCookie?: string } {
  const existing = readCookie(request, CSRF_COOKIE);
  if (existing && existing.length >= 32) return { token: existing };
  const token = randomToken();
  return { token, setCookie: setCookie(publicUrl, CSRF_COOKIE, token, { maxAgeS: 3600, sameSite: "strict" }) };
}

/** True when the form's csrf field matches the cookie. */
export function csrfOk(request: Request, form: Record<string, unknown>): boolean {
  const cookie = readCookie(request, CSRF_COOKIE);
  const field = typeof form.csrf === "string" ? form.csrf : "";
  return Boolean(cookie && field && safeEqual(cookie, field));
}

export const csrfField = (token: string) => `<input type="hidden" name="csrf" value="${esc(token)}">`;

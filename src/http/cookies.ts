// The one place cookies are read and written (Bun.CookieMap and Bun.Cookie, never by hand). Every cookie this
// server sets is HttpOnly, has an explicit Path, SameSite and Max-Age, and is Secure when PUBLIC_URL is https.
// Reading tolerates garbage: a cookie whose value is not one this server could have set (bad percent-encoding,
// control characters, anything beyond the URL-safe token alphabet) is simply absent, never an error.

export type CookieOptions = {
  /** Where the browser sends it; "/" unless a flow is scoped to one route. */
  path?: string;
  maxAgeS: number;
  /** "lax" unless the cookie must never ride on a cross-site navigation. */
  sameSite?: "lax" | "strict";
};

// Every value this server sets is a JWT, a sealed token or a random base64url token: anything else is not ours.
const OURS = /^[A-Za-z0-9._~-]{1,8192}$/;

/** The named cookie of a request, or undefined when it is missing or malformed. */
export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie");
  if (!header) return undefined;
  let value: string | null;
  try {
    value = new Bun.CookieMap(header).get(name);
  } catch {
    return undefined;
  }
  return value && OURS.test(value) ? value : undefined;
}

/** A Set-Cookie value: HttpOnly, Path, SameSite, Max-Age, and Secure when the server is served over https. */
export function setCookie(publicUrl: string, name: string, value: string, opts: CookieOptions): string {
  return new Bun.Cookie(name, value, {
    path: opts.path ?? "/",
    maxAge: opts.maxAgeS,
    sameSite: opts.sameSite ?? "lax",
    httpOnly: true,
    secure: publicUrl.startsWith("https://"),
  }).toString();
}

/** The Set-Cookie value that deletes a cookie (same name, path and flags, Max-Age=0). */
export const clearCookie = (publicUrl: string, name: string, opts: Omit<CookieOptions, "maxAgeS"> = {}) =>
  setCookie(publicUrl, name, "", { ...opts, maxAgeS: 0 });

/** Appends Set-Cookie headers to a response (skipping undefined ones) and returns it. */
export function withCookies(res: Response, cookies: readonly (string | undefined)[]): Response {
  for (const c of cookies) if (c) res.headers.append("set-cookie", c);
  return res;
}

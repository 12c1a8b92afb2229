// The one guard for every redirect to a path a user (or a link someone sent) chose: the sign-in page's `next`,
// the OAuth web flow's `redirect_to`, the link flow's way back through sign-in (docs/security.md, Redirects).
// The input is resolved as a browser would resolve it against this server, and the check runs on that result,
// which is also what is returned: "/..//evil.example" and "/%2e%2e//evil.example" normalise to
// "//evil.example", a scheme-relative URL to another host, and are refused.

const BASE = "http://sidechain.invalid";
const MAX_LENGTH = 2048;
// C0 controls, DEL and C1 controls: browsers drop tabs and newlines from URLs, so "/\t/evil" would be "//evil".
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what a redirect target must not carry
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The normalised form of a relative path on this server ("/device?code=…"), or null: refused are absolute URLs
 * and schemes ("https:evil", "javascript:…"), anything resolving to "//host" or "/\host", backslashes and control
 * characters anywhere, and overlong input.
 */
export function safeRedirectPath(target: unknown): string | null {
  if (typeof target !== "string" || target.length > MAX_LENGTH || !target.startsWith("/")) return null;
  if (target.includes("\\") || CONTROL.test(target)) return null;
  let url: URL;
  try {
    url = new URL(target, BASE);
  } catch {
    return null;
  }
  if (url.origin !== BASE) return null;
  const result = `${url.pathname}${url.search}${url.hash}`;
  // The result, not the input, is what the browser follows: it must still be a plain path.
  if (!result.startsWith("/") || result.startsWith("//") || result.includes("\\") || CONTROL.test(result)) return null;
  return result;
}

// Redirect targets an attacker might hand to any door that redirects (sign-in `next`, OAuth `redirect_to`, the link
// flow's way back through sign-in), with what the one guard (src/http/redirect.ts) makes of each: the normalised
// path the browser is sent to, or null (refused).
export const REDIRECT_CASES: readonly (readonly [string, string | null])[] = [
  ["/device?code=BBBB-CCCC", "/device?code=BBBB-CCCC"],
  // dot segments that normalise to a scheme-relative URL (another host)
  ["/..//evil.example/phish", null],
  ["/%2e%2e//evil.example/x", null],
  ["/%2E%2E//evil.example/x", null],
  ["/.%2e//evil.example", null],
  ["/.//evil.example", null],
  ["/./..//evil.example", null],
  ["/a/../..//evil.example", null],
  ["//evil.example", null],
  ["///evil.example", null],
  // backslashes (browsers read "/\" as "//"), tabs and newlines (browsers drop them), C1 controls
  ["/\\evil.example", null],
  ["/\\/evil.example", null],
  ["/\t/evil.example", null],
  ["/\n/evil.example", null],
  ["/\r\n/evil.example", null],
  ["/\u0085/evil.example", null],
  // schemes and absolute URLs
  ["https:evil.example", null],
  ["https://evil.example/", null],
  ["javascript:alert(1)", null],
  ["feed", null],
  // encoded slashes, backslashes and controls stay encoded: a path on this server
  ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
  ["/..%2f/evil.example", "/..%2f/evil.example"],
  ["/%5Cevil.example", "/%5Cevil.example"],
  ["/%09/evil.example", "/%09/evil.example"],
  ["/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"],
  // unicode look-alikes are percent-encoded, never read as "/"
  ["/\uFF0F\uFF0Fevil.example", "/%EF%BC%8F%EF%BC%8Fevil.example"],
  ["/\u3002/evil.example", "/%E3%80%82/evil.example"],
  ["/\u202e/evil.example", "/%E2%80%AE/evil.example"],
  // the fragment is kept
  ["/feed?tab=new#top", "/feed?tab=new#top"],
];

/** True when a Location header is a plain path on this server (what every redirect must be). */
export function staysOnServer(location: string | null): boolean {
  if (!location?.startsWith("/") || location.startsWith("//") || location.includes("\\")) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is for control characters
  if (/[\u0000-\u0020\u007f-\u009f]/.test(location)) return false;
  return new URL(location, "http://server.test").origin === "http://server.test";
}

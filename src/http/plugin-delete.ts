// The plugin's DELETE without a body arrives as a GET (docs/plugin-contract.md "Transport rules"): how a route that
// reads on GET tells that request apart (GET /posts/{id}, GET /comments/{id}).
/**
 * Whether a GET /posts/{id} (or /comments/{id}) is the plugin's delete (NetworkClient::deletePost, src/network/api/FeedClient.cpp:
 * DELETE without a body, which JUCE sends as GET with the headers of every plugin request). All of these must hold,
 * and the caller must then also be the post's owner: a bearer token in Authorization (the plugin's; a browser or a
 * prefetch cannot add one, and cookies never authorise a change here), `Content-Type: application/json` on a
 * bodiless GET (the plugin sends it on every request; browsers and the usual HTTP clients send none on a GET), no
 * query string, and none of the headers browsers add to their own requests and prefetches (Sec-Fetch-*,
 * Sec-Purpose/Purpose, Origin, Referer, Cookie). Other clients read a post without a Content-Type (documented in
 * docs/plugin-contract.md).
 */
export function isPluginDelete(request: Request): boolean {
  const h = request.headers;
  if (request.method !== "GET" || new URL(request.url).search) return false;
  if ((h.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase() !== "application/json") return false;
  if (!/^bearer\s+\S/i.test(h.get("authorization") ?? "")) return false;
  const length = h.get("content-length");
  if ((length !== null && length !== "0") || h.has("transfer-encoding")) return false;
  for (const name of BROWSER_HEADERS) if (h.has(name)) return false;
  return true;
}
const BROWSER_HEADERS = [
  "sec-fetch-mode",
  "sec-fetch-dest",
  "sec-fetch-site",
  "sec-fetch-user",
  "sec-purpose",
  "purpose",
  "x-purpose",
  "x-moz",
  "origin",
  "referer",
  "cookie",
];

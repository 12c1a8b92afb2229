// GET/HEAD /media/<key>: serves stored objects (docs/plugin-contract.md "Media"). With the local driver the app streams
// the file itself; with S3 it answers 302 to the object's URL (CDN or presigned), so links handed out as
// ${PUBLIC_URL}/media/<key> keep working after a switch to S3. Peaks JSON and SVG waveforms, which the web app
// fetches for every loop it shows, are sent gzipped to clients that accept it (compressed once per object).
// While "sign in to view" is on (README "Sign in to view"), a request must carry the signature of the URL the API or
// a page handed out (src/media/signed-urls.ts): without one it is 401 sign_in_required, with a forged or expired one
// 403; what it gets is cached privately until the URL expires, and with S3 the redirect is to a presigned URL even
// when a CDN is configured.
import { Elysia } from "elysia";
import type { Caches } from "../caches.ts";
import type { Config } from "../config.ts";
import type { Clock } from "../lib/types.ts";
import { checkMediaSignature } from "./signed-urls.ts";
import { ApiError, errors } from "../http/errors.ts";
import type { Lru } from "../lib/lru.ts";
import { isPrivateKey, isValidKey, type Storage } from "../storage/index.ts";
import { noneMatch, parseRange, rangeStillValid } from "./range.ts";

export type MediaRouteOptions = {
  storage: Storage;
  caches?: Pick<Caches, "mediaGzip"> & Partial<Pick<Caches, "instance">>;
  /** With caches.instance: the secret media URLs are signed with, and the clock that says when they expire. */
  config?: Pick<Config, "JWT_SECRET">;
  clock?: Clock;
};

/** Types worth compressing (audio and images already are), and the largest object compressed in memory. */
const COMPRESSIBLE = /^(application\/json|image\/svg\+xml)\b/;
const GZIP_MAX_BYTES = 1 << 20;

const PREFIX = "/media/";
// Keys are unique per content (a new version gets a new key), so a client may keep an object forever.
const CACHE_CONTROL = "public, max-age=31536000, immutable";
// SVG waveforms are served from our origin: a sandboxing CSP keeps any script in one inert (defence in depth,
// the SVGs are ours), and nosniff keeps browsers on the declared type (docs/security.md "Media serving").
const CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/** The key named by a request path, or null. Decoded once; a valid key never needs escaping, so an escaped
 *  "/", ".", "%" or NUL decodes to something the key rules refuse. */
function keyOf(path: string): string | null {
  if (!path.startsWith(PREFIX)) return null;
  let key: string;
  try {
    key = decodeURIComponent(path.slice(PREFIX.length));
  } catch {
    return null; // malformed escape
  }
  return isValidKey(key) && !isPrivateKey(key) ? key : null;
}

// The same 404 for a malformed key, a traversal attempt and a missing object: a probe learns nothing, and a
// path that is not a valid key never reaches the filesystem.
const notFound = () => errors.notFound("not_found", "No such media");

/** Null when the request may have the object; otherwise the refusal. */
function signatureRefusal(opts: MediaRouteOptions, key: string, url: URL): ApiError | null {
  const { caches, config, clock } = opts;
  if (!caches?.instance?.sign_in_to_view || !config || !clock) return null;
  const check = checkMediaSignature(config.JWT_SECRET, key, url.searchParams.get("exp"), url.searchParams.get("sig"), clock.now());
  if (check === "ok") return null;
  if (check === "missing") return errors.signInRequired();
  return check === "expired"
    ? errors.forbidden("media_link_expired", "This media link has expired; reload the page or feed that gave it")
    : errors.forbidden("media_link_invalid", "This media link is not valid");
}

export const mediaRoutes = (opts: MediaRouteOptions) => {
  const { storage, caches } = opts;
  return new Elysia({ name: "media" }).all(
    "/media/*",
    async ({ request, path }) => {
      // One handler for GET and HEAD: Elysia would answer HEAD on a wildcard GET route by reading the whole body
      // to count it; here HEAD never opens the object.
      const method = request.method;
      if (method !== "GET" && method !== "HEAD") {
        throw new ApiError(405, "method_not_allowed", `${method} is not allowed on media`, undefined, { allow: "GET, HEAD" });
      }
      const key = keyOf(path);
      if (!key) throw notFound();
      const url = new URL(request.url);
      const refused = signatureRefusal(opts, key, url);
      if (refused) throw refused;
      const signed = url.searchParams.has("sig") && caches?.instance?.sign_in_to_view === true;

      if (storage.driver !== "local") {
        // Not cached: a presigned target changes over time. The bucket or CDN answers for a missing key.
        const location = await storage.url(key, { presigned: signed });
        return new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } });
      }

      const info = await storage.head(key);
      if (!info) throw notFound();
      const headers: Record<string, string> = {
        "content-type": info.contentType,
        "accept-ranges": "bytes",
        // A signed URL is kept by the browser only, and only until it expires.
        "cache-control": signed ? `private, max-age=${Math.max(0, Number(url.searchParams.get("exp")) - Math.floor(opts.clock!.now() / 1000))}` : CACHE_CONTROL,
        etag: info.etag,
        "x-content-type-options": "nosniff",
        "content-security-policy": CSP,
      };
      const compressible = caches !== undefined && COMPRESSIBLE.test(info.contentType) && info.size <= GZIP_MAX_BYTES;
      if (compressible) {
        headers.vary = "accept-encoding";
        // Whole GETs only (a Range is of the stored bytes); the gzipped copy has its own etag.
        if (method === "GET" && !request.headers.get("range") && /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
          const gzTag = info.etag.endsWith('"') ? `${info.etag.slice(0, -1)}-gz"` : `${info.etag}-gz`;
          const gz = await gzipped(storage, caches.mediaGzip, key, info.etag);
          if (gz) {
            const zipped: Record<string, string> = { ...headers, etag: gzTag, "content-encoding": "gzip" };
            if (noneMatch(request.headers.get("if-none-match"), gzTag)) {
              const { "content-type": _, "content-encoding": __, ...rest } = zipped;
              return new Response(null, { status: 304, headers: rest });
            }
            return new Response(gz, { status: 200, headers: { ...zipped, "content-length": String(gz.length) } });
          }
        }
      }
      if (noneMatch(request.headers.get("if-none-match"), info.etag)) {
        const { "content-type": _, ...rest } = headers;
        return new Response(null, { status: 304, headers: rest });
      }

      const range = rangeStillValid(request.headers.get("if-range"), info.etag) ? parseRange(request.headers.get("range"), info.size) : null;
      if (range === "unsatisfiable") return unsatisfiable(info.size);
      if (range) headers["content-range"] = `bytes ${range.start}-${range.end}/${info.size}`;
      const status = range ? 206 : 200;

      if (method === "HEAD") {
        headers["content-length"] = String(range ? range.end - range.start + 1 : info.size);
        return new Response(null, { status, headers });
      }
      let object: Awaited<ReturnType<Storage["get"]>>;
      try {
        object = await storage.get(key, range ?? undefined);
      } catch (err) {
        if (err instanceof RangeError) return unsatisfiable(info.size); // replaced by a shorter object meanwhile
        throw err;
      }
      if (!object) throw notFound(); // deleted between head and get
      headers["content-length"] = String(object.length);
      return new Response(object.body, { status, headers });
    },
    // Hidden from OpenAPI: an "all" route would be listed under every method with one operationId. Clients get
    // media URLs from API responses (audio_url, waveform_url...), never by building them.
    { detail: { hide: true } },
  );
};

/** The object gzipped, once per key and version (its etag); null when it is gone meanwhile. */
async function gzipped(storage: Storage, cache: Lru<string, Uint8Array<ArrayBuffer>>, key: string, etag: string): Promise<Uint8Array<ArrayBuffer> | null> {
  const id = `${key}|${etag}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const object = await storage.get(key);
  if (!object) return null;
  const gz = Bun.gzipSync(new Uint8Array(await new Response(object.body).arrayBuffer()), { level: 6 });
  cache.set(id, gz);
  return gz;
}

/** 416 in the contract shape (ApiError's status set has no 416), with the size a client needs to retry. */
function unsatisfiable(size: number): Response {
  return Response.json(
    { error: "range_not_satisfiable", message: `The requested range is outside the object (${size} bytes)` },
    { status: 416, headers: { "content-range": `bytes */${size}`, "accept-ranges": "bytes", "x-content-type-options": "nosniff" } },
  );
}

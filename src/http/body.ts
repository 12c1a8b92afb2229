// Request bodies (docs/security.md, Request bodies). Every route declares what it takes with the `accepts` macro:
// which kinds of body (JSON, urlencoded form, multipart) and how many bytes. Everything under the app's guards gets
// a declaration (app.ts: forms for the browser pages, JSON for the rest, BODY_MAX_BYTES unless a route says
// otherwise), so no route falls back to Elysia's own parsers, which read a whole body of any size.
//
// The declaration becomes the route's parse step. It refuses a content type the route does not take (415, before
// reading anything: an API route never takes the urlencoded, multipart or text bodies that any web page can make a
// browser send without a CORS preflight), refuses a declared Content-Length above the limit (413, before reading),
// and reads a body without a length (chunked) only until it passes the limit. JSON nested deeper than
// JSON_MAX_DEPTH is refused before it is parsed. Limits belong to the route Elysia matched, so /upload and /upload/
// are the same route with the same limit.
//
// Upload routes declare `readInHandler`: their parse step reads nothing (`body` is an empty object), and the handler
// calls readUploadForm (multipart.ts: streamed to disk) after the auth guard and the upload rate limit, so a
// stranger's 50 MB is never read.
import { Elysia } from "elysia";
import { ErrorSchema, errors } from "./errors.ts";

export type BodyKind = "json" | "form" | "multipart";
export type Accepts = {
  kinds: readonly BodyKind[];
  /** Largest body in bytes; the plugin's default (BODY_MAX_BYTES) when absent. */
  maxBytes?: number;
  /** The parse step reads nothing; the handler calls readUploadForm (multipart.ts) once it has checked who is asking. */
  readInHandler?: boolean;
};
/** A declaration with its limit resolved. */
export type Declared = Accepts & { maxBytes: number };

/** Room for the multipart envelope and text fields on top of an uploaded file. */
export const MULTIPART_ENVELOPE_BYTES = 64 * 1024;
/** Deeper JSON is refused before parsing: no request of ours nests more than a few levels. */
export const JSON_MAX_DEPTH = 32;

const MEDIA_TYPES: Record<BodyKind, string> = {
  json: "application/json",
  form: "application/x-www-form-urlencoded",
  multipart: "multipart/form-data",
};
/** Elysia's names of the same parsers: listed after ours (which always answers) so the OpenAPI document shows them. */
const ELYSIA_PARSER: Record<BodyKind, string> = { json: "json", form: "urlencoded", multipart: "formdata" };

/** The kind of body a Content-Type names, or null for one no route takes. */
function kindOf(mediaType: string): BodyKind | null {
  if (mediaType === "application/json" || /^application\/[\w.+-]+\+json$/.test(mediaType)) return "json";
  if (mediaType === MEDIA_TYPES.form) return "form";
  if (mediaType === MEDIA_TYPES.multipart) return "multipart";
  return null;
}

const tooLarge = (max: number) => errors.tooLarge(`The request body is larger than ${max} bytes`);

/**
 * The body, capped at `max` bytes: a declared Content-Length above `max` is refused before anything is read. With a
 * declared length (and no chunked encoding) the body cannot be longer than declared (HTTP framing), so Bun's own
 * readers take it as is, the cheapest way. Without one, the body is read through a stream that errors, and cancels
 * the upload, as soon as more than `max` bytes have passed; `over()` tells that 413 from other errors.
 */
function capped(request: Request, max: number): { body: Pick<Request, "bytes" | "formData">; over(): boolean } {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > max) throw tooLarge(max);
  if (declared >= 0 && !request.headers.has("transfer-encoding")) return { body: request, over: () => false };
  let size = 0;
  let over = false;
  const stream = request.body?.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        size += chunk.byteLength;
        if (size <= max) return out.enqueue(chunk);
        over = true;
        out.error(tooLarge(max));
      },
    }),
  );
  return { body: new Response(stream ?? null, { headers: { "content-type": request.headers.get("content-type") ?? "" } }), over: () => over };
}

/** Reads the whole body, failing with 413 as soon as more than `max` bytes have arrived. */
export async function readCapped(request: Request, max: number): Promise<Uint8Array> {
  const { body, over } = capped(request, max);
  try {
    return await body.bytes();
  } catch (err) {
    throw over() ? tooLarge(max) : err;
  }
}

/** A form body (urlencoded or multipart), parsed by Bun as it is read: no copy of the whole body on our side. */
async function readForm(request: Request, max: number): Promise<Record<string, unknown>> {
  const { body, over } = capped(request, max);
  try {
    return formToObject(await body.formData());
  } catch {
    throw over() ? tooLarge(max) : errors.badRequest("invalid_form", "The form body could not be parsed");
  }
}

/** True when brackets outside strings nest deeper than `max` (one pass over the bytes, no recursion). */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** FormData → plain object the way route schemas expect it: one value per key, arrays for repeated keys. */
export function formToObject(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of form.entries()) addField(out, k, v);
  return out;
}

/** Adds one form field the way route schemas expect it: the value, or an array once the name repeats. */
export function addField(out: Record<string, unknown>, name: string, value: unknown) {
  const prev = out[name];
  out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
}

/** A request with no body at all (not even an empty chunked one): what GET-like POSTs send. */
const hasNoBody = (request: Request) => !request.body || request.headers.get("content-length") === "0";

/**
 * The kind of the request's body when the route takes it; null for a request with no body at all; 415
 * unsupported_media_type (thrown) for any other content type, before anything is read.
 */
export function bodyKind(request: Request, accepts: Pick<Accepts, "kinds">): BodyKind | null {
  const mediaType = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  const kind = kindOf(mediaType);
  if (kind && accepts.kinds.includes(kind)) return kind;
  if (hasNoBody(request)) return null;
  const wanted = accepts.kinds.map((k) => MEDIA_TYPES[k]).join(" or ");
  throw errors.unsupportedMedia("unsupported_media_type", `This route takes ${wanted}${mediaType ? `, not ${mediaType}` : "; say so in Content-Type"}`);
}

/**
 * Reads and parses a body the way `accepts` allows: 415 unsupported_media_type for another content type, 413
 * payload_too_large past the limit, 400 invalid_json / invalid_form / validation_error (too deep). No body at all
 * is {} (the plugin sends Content-Type: application/json on requests without one); a body without a content type
 * is refused, since it does not say what it is.
 */
export async function readBody(request: Request, accepts: Declared): Promise<unknown> {
  const kind = bodyKind(request, accepts);
  if (!kind) return {};
  if (kind === "json") {
    const bytes = await readCapped(request, accepts.maxBytes);
    // The plugin sends Content-Type: application/json on requests with no body: that is an empty object.
    if (bytes.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) return {};
    if (nestsDeeperThan(bytes, JSON_MAX_DEPTH))
      throw errors.validation({ body: `Nested deeper than ${JSON_MAX_DEPTH} levels` }, "The JSON body is nested too deeply");
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw errors.badRequest("invalid_json", "The request body is not valid JSON");
    }
  }
  return readForm(request, accepts.maxBytes);
}

const DECLARED = Symbol("accepts");
type ParseEntry = string | ((...args: never[]) => unknown) | { fn?: unknown };
type RouteHook = { parse?: ParseEntry | ParseEntry[]; body?: unknown; response?: unknown };

/** The declaration among a route's parse hooks (our parse function carries it), if any. */
function declarationIn(parse: RouteHook["parse"]): Declared | undefined {
  for (const p of [parse ?? []].flat()) {
    const fn = typeof p === "object" && p ? p.fn : p;
    if (typeof fn === "function" && DECLARED in fn) return (fn as unknown as Record<symbol, Declared>)[DECLARED];
  }
  return undefined;
}

/** Body errors every route that takes a body can answer, added to the route's documented responses. */
const BODY_ERRORS = { 400: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema };

/**
 * The `accepts` macro. `defaultMaxBytes` (BODY_MAX_BYTES) applies where a declaration names no limit. A route's
 * own declaration wins over the guard's default (the route's is applied first; the guard's then sees it).
 */
export const bodies = (defaultMaxBytes: number) =>
  new Elysia({ name: "bodies", seed: defaultMaxBytes }).macro({
    accepts: (accepts: Accepts) => ({
      // Applied while the route is added, before Elysia compiles it: replaces whatever parse the route had
      // (e.g. Elysia's `parse: "json"`, which would read any size) with this declaration.
      introspect(hook: RouteHook) {
        if (declarationIn(hook.parse)) return;
        const spec: Declared = { ...accepts, maxBytes: accepts.maxBytes ?? defaultMaxBytes };
        const parse = spec.readInHandler ? () => ({}) : ({ request }: { request: Request }) => readBody(request, spec);
        Object.assign(parse, { [DECLARED]: spec });
        hook.parse = [{ fn: parse }, ...spec.kinds.map((k) => ({ fn: ELYSIA_PARSER[k] }))];
        // Routes that document a body and their responses also document the body refusals.
        const response = hook.response;
        if (hook.body && response && typeof response === "object" && !("type" in response) && !("$ref" in response)) {
          hook.response = { ...BODY_ERRORS, ...response };
        }
      },
    }),
  });

/** The declaration a compiled route carries (tests check that every route that takes a body has one). */
export const declaredAccepts = (route: { hooks?: unknown }): Declared | undefined => declarationIn((route.hooks as RouteHook | undefined)?.parse);

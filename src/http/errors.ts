// The closed set of errors the API answers with (docs/plugin-contract.md "Errors"): every error body is
// {"error":"<snake_case_code>","message":"...","fields"?:{...}} with a non-2xx status. Features throw these (or
// return them); anything else that escapes a handler becomes a fixed 500 with the details in the log only.
import { Elysia, t } from "elysia";
import type { Logger } from "../lib/types.ts";
import { errorFields } from "../log.ts";

export type ErrorBody = { error: string; message: string; fields?: Record<string, string> };

export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 502 | 503,
    readonly code: string,
    message: string,
    readonly fields?: Record<string, string>,
    /** Extra response headers, e.g. Retry-After on 429. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
  toBody(): ErrorBody {
    return this.fields ? { error: this.code, message: this.message, fields: this.fields } : { error: this.code, message: this.message };
  }
  toResponse(extraHeaders?: Record<string, string>): Response {
    return Response.json(this.toBody(), { status: this.status, headers: { ...this.headers, ...extraHeaders } });
  }
  /** Writes status and headers into Elysia's `set` and returns the body (keeps the request id header). */
  apply(set: { status?: unknown; headers: Record<string, unknown> }): ErrorBody {
    set.status = this.status;
    if (this.headers) Object.assign(set.headers, this.headers);
    return this.toBody();
  }
}

/** The error constructors features use; the code is the machine-readable part clients branch on. */
export const errors = {
  badRequest: (code: string, message: string, fields?: Record<string, string>) => new ApiError(400, code, message, fields),
  validation: (fields: Record<string, string>, message = "Some fields are invalid") => new ApiError(400, "validation_error", message, fields),
  unauthorized: (code: "invalid_token" | "token_expired" | "invalid_credentials" | "unauthorized", message: string) => new ApiError(401, code, message),
  /** A stranger while the community's "sign in to view" is on (README "Sign in to view"). */
  signInRequired: () => new ApiError(401, "sign_in_required", "This community is visible to its members only: sign in first"),
  forbidden: (code: string, message: string) => new ApiError(403, code, message),
  notFound: (code: string, message: string) => new ApiError(404, code, message),
  conflict: (code: string, message: string) => new ApiError(409, code, message),
  gone: (code: string, message: string) => new ApiError(410, code, message),
  tooLarge: (message: string) => new ApiError(413, "payload_too_large", message),
  unsupportedMedia: (code: string, message: string) => new ApiError(415, code, message),
  unprocessable: (code: string, message: string) => new ApiError(422, code, message),
  rateLimited: (retryAfterS: number) =>
    new ApiError(429, "rate_limited", `Too many requests, retry in ${retryAfterS} s`, undefined, {
      "retry-after": String(Math.max(1, Math.ceil(retryAfterS))),
    }),
  unavailable: (code: string, message: string) => new ApiError(503, code, message),
} as const;

/** OpenAPI schema of every error body; routes list it under their 4xx/5xx responses. */
export const ErrorSchema = t.Object(
  {
    error: t.String({ minLength: 1, description: "snake_case error code" }),
    message: t.String(),
    fields: t.Optional(t.Record(t.String(), t.String(), { description: "offending fields (validation errors)" })),
  },
  { title: "Error", examples: [{ error: "not_found", message: "No such post" }] },
);

const INTERNAL_MESSAGE = "Something went wrong on the server; the error has been logged";

/** The ApiError an error of a handler answers with, or undefined for an unexpected one (a 500). */
function toApiError(code: unknown, error: unknown, request: Request, path: string): ApiError | undefined {
  if (error instanceof ApiError) return error;
  // Errors thrown by our body parser (413, invalid JSON) arrive wrapped in Elysia's ParseError.
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof ApiError) return cause;
  switch (code) {
    case "VALIDATION":
      return errors.validation(validationFields(error), "Some fields are invalid");
    case "PARSE":
      return errors.badRequest("invalid_body", "The request body could not be parsed");
    case "NOT_FOUND":
      return errors.notFound("not_found", `No route for ${request.method} ${path}`);
    case "INVALID_COOKIE_SIGNATURE":
      return errors.badRequest("invalid_cookie", "A cookie was tampered with");
  }
  return undefined;
}

/** The offending fields of a schema validation (Elysia's, or TypeBox's errors as `all`): the schema's own `error`
 * message where it has one, else TypeBox's. */
export function validationFields(error: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  const all = (error as { all?: { path?: string; message?: string; summary?: string; schema?: { error?: unknown } }[] }).all ?? [];
  for (const e of all) {
    const name = (e.path ?? "").replace(/^\//, "").replace(/\//g, ".") || "body";
    const own = typeof e.schema?.error === "string" ? e.schema.error : undefined;
    fields[name] ??= own ?? e.summary ?? e.message ?? "invalid";
  }
  return fields;
}

/**
 * Global error mapping; registered first on the root app so it covers every route. `answered` is told of every
 * ApiError answer with the route pattern it came from (the metrics count refused uploads by code with it).
 */
export const errorHandler = (log: Logger, opts: { answered?: (error: ApiError, route: string) => void } = {}) =>
  new Elysia({ name: "errors" }).error({ ApiError }).onError({ as: "global" }, ({ code, error, request, path, route, set }) => {
    const known = toApiError(code, error, request, path);
    if (known) {
      opts.answered?.(known, route);
      return known.apply(set);
    }
    // Unknown error: fixed message to the client, details to the log only.
    log.error("unhandled error", { path, method: request.method, ...errorFields(error, { stack: true }) });
    set.status = 500;
    return { error: "internal_error", message: INTERNAL_MESSAGE } satisfies ErrorBody;
  });

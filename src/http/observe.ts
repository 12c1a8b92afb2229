// Cross-cutting HTTP conventions: a request id on every response, one JSON log line per request, and the
// server-wide body limit, enforced while the body streams (see body.ts).
import { Elysia } from "elysia";
import type { Logger } from "../deps.ts";
import { errors } from "./errors.ts";
import { parseBody } from "./body.ts";

type RequestInfo = { id: string; start: number; userId?: string };
const info = new WeakMap<Request, RequestInfo>();

/** Lets the auth guard name the user in the request's log line. */
export function setRequestUser(request: Request, userId: string) {
  const i = info.get(request);
  if (i) i.userId = userId;
}

export function requestId(request: Request): string | undefined {
  return info.get(request)?.id;
}

const SAFE_ID = /^[A-Za-z0-9._-]{8,64}$/;

export const observe = (opts: { log: Logger; bodyMaxBytes: number; routeBodyLimits?: Record<string, number> }) =>
  new Elysia({ name: "observe" })
    .onRequest(({ request, set }) => {
      const given = request.headers.get("x-request-id");
      const id = given && SAFE_ID.test(given) ? given : Bun.randomUUIDv7();
      info.set(request, { id, start: performance.now() });
      set.headers["x-request-id"] = id;
      // Refuse a declared oversized body before reading any of it. Bodies without a length (chunked) are cut by
      // Bun.serve's maxRequestBodySize and by the streaming readers of the routes that take big bodies.
      const len = Number(request.headers.get("content-length") ?? 0);
      if (len > opts.bodyMaxBytes) throw errors.tooLarge(`The request body is larger than ${opts.bodyMaxBytes} bytes`);
    })
    // Routes that take big bodies (uploads) have their own, smaller limit, enforced the same way.
    .onParse({ as: "global" }, ({ request, path }) =>
      parseBody(request, request.headers.get("content-type") ?? "", opts.routeBodyLimits?.[path] ?? opts.bodyMaxBytes),
    )
    .onAfterResponse({ as: "global" }, ({ request, set, path, responseValue }) => {
      const i = info.get(request);
      const status = responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
      // Query strings are left out of the log on purpose: some carry tokens (?token=, ?session_id=).
      opts.log.info("request", {
        method: request.method,
        path,
        status,
        duration_ms: i ? Math.round((performance.now() - i.start) * 100) / 100 : undefined,
        request_id: i?.id,
        user_id: i?.userId,
      });
    });

// Cross-cutting HTTP conventions: a request id on every response, one JSON log line per request, and (with metrics
// on) one observation of the request histogram by the matched route pattern, never the path. Bodies are each
// route's own declaration (body.ts).
import { Elysia } from "elysia";
import type { Logger } from "../deps.ts";
import { NO_METRICS, type Metrics } from "../metrics/types.ts";

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

export const observe = (opts: { log: Logger; metrics?: Metrics }) => {
  const metrics = opts.metrics ?? NO_METRICS;
  return new Elysia({ name: "observe" })
    .onRequest(({ request, set }) => {
      const given = request.headers.get("x-request-id");
      const id = given && SAFE_ID.test(given) ? given : Bun.randomUUIDv7();
      info.set(request, { id, start: performance.now() });
      set.headers["x-request-id"] = id;
    })
    .onAfterResponse({ as: "global" }, ({ request, set, path, route, responseValue }) => {
      const i = info.get(request);
      const status = responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
      // A path no route matched has no pattern: one label for all of them, whatever the path.
      if (i && metrics.enabled) metrics.httpRequest(request.method, route || "unmatched", status, (performance.now() - i.start) / 1000);
      // Query strings are left out of the log on purpose: some carry tokens (?token=, ?session_id=); so is a path
      // with a token in it (a data export's link, /export/:token): its route pattern stands in for it.
      opts.log.info("request", {
        method: request.method,
        path: route?.includes(":token") ? route : path,
        status,
        duration_ms: i ? Math.round((performance.now() - i.start) * 100) / 100 : undefined,
        request_id: i?.id,
        user_id: i?.userId,
      });
    });
};

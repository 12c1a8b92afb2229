// GET /metrics (README "Metrics"): who may read it and the answer. The same two functions serve the route on the main
// port (src/system/routes.ts, with METRICS_TOKEN alone) and the listener of its own (METRICS_LISTEN, started by
// src/index.ts with serveMetrics), so both doors check the token the same way.
import { createHash, timingSafeEqual } from "node:crypto";
import { ApiError } from "../http/errors.ts";
import { CONTENT_TYPE } from "./registry.ts";
import type { Metrics } from "./types.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Checks `Authorization: Bearer <token>` against METRICS_TOKEN in constant time (both sides hashed first, so neither
 * the content nor the length of the token leaks through timing). Only the header counts: a token in the query
 * string is never read, so it does not end up in proxy logs as a working credential. Throws a 401 ApiError.
 */
export function checkMetricsToken(request: Request, token: string | undefined) {
  if (!token) return;
  const given = /^Bearer ([\x21-\x7e]+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
  if (given && timingSafeEqual(digest(given), digest(token))) return;
  throw new ApiError(401, "unauthorized", "The metrics need the bearer token METRICS_TOKEN in the Authorization header", undefined, {
    "www-authenticate": 'Bearer realm="metrics"',
  });
}

/** The exposition text, never cached by anything in between. */
export async function metricsResponse(metrics: Metrics): Promise<Response> {
  return new Response(await metrics.scrape(), { headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" } });
}

/**
 * The listener of METRICS_LISTEN: GET (or HEAD) /metrics and nothing else, behind METRICS_TOKEN when it is set. Not
 * the app: no other route, no request log line, no request metric of its own.
 */
export function serveMetrics(opts: { hostname: string; port: number; metrics: Metrics; token?: string; onError: (err: unknown) => void }) {
  const notFound = () => Response.json({ error: "not_found", message: "This listener serves GET /metrics only" }, { status: 404 });
  return Bun.serve({
    hostname: opts.hostname,
    port: opts.port,
    maxRequestBodySize: 1024,
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname !== "/metrics") return notFound();
      if (request.method !== "GET" && request.method !== "HEAD") {
        return Response.json({ error: "method_not_allowed", message: "GET /metrics" }, { status: 405, headers: { allow: "GET, HEAD" } });
      }
      try {
        checkMetricsToken(request, opts.token);
        return await metricsResponse(opts.metrics);
      } catch (err) {
        if (err instanceof ApiError) return err.toResponse({ "cache-control": "no-store" });
        opts.onError(err);
        return Response.json({ error: "internal_error", message: "The metrics could not be collected" }, { status: 500 });
      }
    },
  });
}

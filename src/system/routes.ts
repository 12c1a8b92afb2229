// Liveness and readiness. /health is the plugin's probe and stays at the root, without the API prefix.
import { Elysia, t } from "elysia";
import { type Deps, PublicReason } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { errorMessage } from "../log.ts";
import { checkMetricsToken, metricsResponse } from "../metrics/endpoint.ts";
import { withTimeout } from "../lib/limit.ts";

const Ok = t.Object({ status: t.Literal("ok") }, { examples: [{ status: "ok" }] });
const Ready = t.Object(
  { status: t.Literal("ok"), checks: t.Record(t.String(), t.Literal("ok")) },
  { examples: [{ status: "ok", checks: { database: "ok", storage: "ok" } }] },
);

const Exposition = t.String({ description: "Prometheus text format 0.0.4 (README, Metrics)" });

/**
 * GET /metrics on the main port: only with METRICS_TOKEN and without METRICS_LISTEN (which serves it on a listener of
 * its own instead, src/index.ts); otherwise there is no such route here and it answers 404 like any unknown path.
 */
const metricsRoute = (deps: Deps) => {
  const { METRICS_TOKEN, METRICS_LISTEN } = deps.config;
  const app = new Elysia({ name: "metrics", detail: { tags: ["system"] } });
  if (!METRICS_TOKEN || METRICS_LISTEN) return app;
  return app.get(
    "/metrics",
    ({ request }) => {
      checkMetricsToken(request, METRICS_TOKEN);
      return metricsResponse(deps.metrics);
    },
    {
      response: { 200: Exposition, 401: ErrorSchema },
      detail: {
        summary: "Prometheus metrics (only when METRICS_TOKEN is set): Authorization: Bearer METRICS_TOKEN",
        security: [{ bearer: [] }],
      },
    },
  );
};

/** How long /readyz waits for one part's check. */
export const READY_CHECK_TIMEOUT_MS = 5_000;

export const systemRoutes = (deps: Deps) =>
  new Elysia({ name: "system", detail: { tags: ["system"] } })
    .use(metricsRoute(deps))
    .get("/health", () => ({ status: "ok" as const }), {
      response: { 200: Ok },
      detail: { summary: "Health probe used by the plugin" },
    })
    .get("/livez", () => ({ status: "ok" as const }), {
      response: { 200: Ok },
      detail: { summary: "Liveness: the process answers" },
    })
    .get(
      "/readyz",
      async () => {
        const checks: Record<string, "ok"> = {};
        const failed: Record<string, string> = {};
        const shown: string[] = [];
        await Promise.all(
          Object.entries(deps.readiness).map(async ([name, check]) => {
            try {
              // A probe never hangs: a part that does not answer in time (a Redis that went away) is failing.
              await withTimeout(check(), READY_CHECK_TIMEOUT_MS);
              checks[name] = "ok";
            } catch (err) {
              failed[name] = errorMessage(err);
              shown.push(err instanceof PublicReason ? `${name} (${err.message})` : name);
            }
          }),
        );
        if (Object.keys(failed).length) {
          deps.log.warn("not ready", { failed });
          throw errors.unavailable("not_ready", `Not ready: ${shown.sort().join(", ")} failing`);
        }
        return { status: "ok" as const, checks };
      },
      {
        response: { 200: Ready, 503: ErrorSchema },
        detail: { summary: "Readiness: the database answers, storage and DATA_DIR are writable, ffmpeg and ffprobe can process loops" },
      },
    );

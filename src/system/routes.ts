// Liveness and readiness. /health is the plugin's probe and stays at the root, without the API prefix.
import { Elysia, t } from "elysia";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { errorMessage } from "../log.ts";

const Ok = t.Object({ status: t.Literal("ok") }, { examples: [{ status: "ok" }] });
const Ready = t.Object(
  { status: t.Literal("ok"), checks: t.Record(t.String(), t.Literal("ok")) },
  { examples: [{ status: "ok", checks: { database: "ok", storage: "ok" } }] },
);

export const systemRoutes = (deps: Deps) =>
  new Elysia({ name: "system", detail: { tags: ["system"] } })
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
        await Promise.all(
          Object.entries(deps.readiness).map(async ([name, check]) => {
            try {
              await check();
              checks[name] = "ok";
            } catch (err) {
              failed[name] = errorMessage(err);
            }
          }),
        );
        if (Object.keys(failed).length) {
          deps.log.warn("not ready", { failed });
          throw errors.unavailable("not_ready", `Not ready: ${Object.keys(failed).join(", ")} failing`);
        }
        return { status: "ok" as const, checks };
      },
      {
        response: { 200: Ready, 503: ErrorSchema },
        detail: { summary: "Readiness: the database answers and storage is writable" },
      },
    );

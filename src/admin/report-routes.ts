// POST /api/v1/reports: a member reports a loop, a comment or an account to the staff (see docs/security.md
// "Roles and staff actions"). The staff's side (the queue and its actions) is in src/admin/routes.ts.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { fileReport, REPORT_REASONS } from "./reports.ts";

export const ReportBody = t.Object({
  target_type: t.Union([t.Literal("post"), t.Literal("user"), t.Literal("comment")]),
  target_id: t.String({ minLength: 1, maxLength: 64, description: "the loop's id, the comment's id, or the account's id or username" }),
  reason: t.Union(
    REPORT_REASONS.map((r) => t.Literal(r)),
    { description: REPORT_REASONS.join(", ") },
  ),
  note: t.Optional(t.String({ maxLength: 2000, description: "what the staff should know (at most 1,000 characters)" })),
});

export const reportRoutes = (deps: Deps) =>
  new Elysia({ name: "report-routes", detail: { tags: ["moderation"] } }).use(authGuard(deps)).post(
    "/reports",
    async ({ auth, body, set }) => {
      const r = await fileReport(deps, auth.user, body);
      set.status = 201;
      return { id: r.id, status: "open" as const };
    },
    {
      auth: true,
      rateLimit: "reports",
      parse: "json",
      body: ReportBody,
      response: {
        201: t.Object({ id: t.String(), status: t.Literal("open") }, { examples: [{ id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b", status: "open" }] }),
        400: ErrorSchema,
        401: ErrorSchema,
        404: ErrorSchema,
        409: ErrorSchema,
        429: ErrorSchema,
      },
      detail: { summary: "Report a loop, a comment or an account to the staff (one open report per target; 409 already_reported)" },
    },
  );

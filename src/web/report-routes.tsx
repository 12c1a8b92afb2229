// POST /report: the web app's Report form (web/ui/report.tsx), the browser's door to the same service as
// POST /api/v1/reports (src/admin/reports.ts: the same checks, the same "reports" rate limit, 409 for a second open
// report of the same target). CSRF-checked and signed in by the browser-session cookie; signed out, the sign-in page
// with `next` back to the page the form was on. A plain form gets a page saying what happened (sent, or why not) with
// a link back; the client script (accept: application/json) gets the API's JSON or error.
import { Elysia, t } from "elysia";
import { signInPath } from "../auth/browser-session.ts";
import { fileReport, REPORT_REASONS, type ReportReason } from "../admin/reports.ts";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { ApiError, errors } from "../http/errors.ts";
import { safeRedirectPath } from "../http/redirect.ts";
import { asForm, browserActionDoc, browserWriter, formText, seeOther, viewerOf, wantsJson } from "./context.ts";
import { htmlResponder } from "./html.ts";
import { Shell, type Viewer } from "./shell.tsx";

function Outcome(p: { instance: Deps["caches"]["instance"]; viewer: Viewer; sent: boolean; message: string; back: string }): JSX.Element {
  const title = p.sent ? "Report sent" : "Report not sent";
  return (
    <Shell title={title} instance={p.instance} viewer={p.viewer} path="/report" narrow>
      <h1>{title}</h1>
      <p class={p.sent ? "notice ok" : "notice error"} role={p.sent ? "status" : "alert"} safe>
        {p.message}
      </p>
      <p>
        <a class="button" href={p.back}>
          Back
        </a>
      </p>
    </Shell>
  ) as JSX.Element;
}

export const webReportRoutes = (deps: Deps) => {
  const html = htmlResponder(deps);
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);
  return new Elysia({ name: "web-report" }).post(
    "/report",
    async ({ request, body }) => {
      const form = asForm(body);
      const json = wantsJson(request);
      const back = safeRedirectPath(form.next) ?? "/";
      const answer = async (viewer: Viewer, status: number, sent: boolean, message: string) =>
        html(await (<Outcome instance={deps.caches.instance} viewer={viewer} sent={sent} message={message} back={back} />), { status, cache: "no-store" });
      let viewer: Viewer = null;
      try {
        const auth = await browserWriter(deps, request, form);
        if (!auth) {
          if (!json) return seeOther(signInPath(back));
          throw errors.unauthorized("unauthorized", "Sign in first");
        }
        viewer = json ? null : await viewerOf(deps, auth);
        const targetType = form.target_type;
        const reason = formText(form.reason, 32);
        const fields: Record<string, string> = {};
        if (targetType !== "post" && targetType !== "user") fields.target_type = "post or user";
        if (!(REPORT_REASONS as readonly string[]).includes(reason)) fields.reason = "Choose a reason";
        const targetId = formText(form.target_id, 64);
        if (!targetId) fields.target_id = "Required";
        if (Object.keys(fields).length) throw errors.validation(fields, "Choose a reason for the report");
        await deps.routeLimits.hit("reports", { ip: clientIp(request, trusted), userId: auth.user.id });
        // The API's own bound on the note's raw length; the service checks the 1,000 characters people see.
        const note = typeof form.note === "string" ? form.note.slice(0, 2000) : "";
        const report = await fileReport(deps, auth.user, {
          target_type: targetType as "post" | "user",
          target_id: targetId,
          reason: reason as ReportReason,
          note,
        });
        if (json) return Response.json({ id: report.id, status: "open" }, { headers: { "cache-control": "no-store" } });
        return answer(viewer, 200, true, "Thank you. The staff will look at it, and you will get a mail when they close it.");
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (json) return err.toResponse({ "cache-control": "no-store" });
        const detail = err.fields ? Object.values(err.fields).join("; ") : "";
        return answer(viewer, err.status, false, err.code === "validation_error" && detail ? detail : err.message);
      }
    },
    {
      ...browserActionDoc(
        "Report a loop (target_type=post) or a producer (target_type=user) from the web app, with a reason and an optional note",
        t.Object({ id: t.String(), status: t.Literal("open") }, { examples: [{ id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b", status: "open" }] }),
      ),
    },
  );
};

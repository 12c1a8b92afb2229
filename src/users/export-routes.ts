// The data export's two routes (src/users/export.ts has the job): asking for one, and downloading it by the
// mailed link. The link's token is a bearer secret in the path; the request log names the route pattern instead of
// such a path (src/http/observe.ts).
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { openExport, requestExport } from "./export.ts";

export const ExportQueued = t.Object({ status: t.Literal("queued") }, { examples: [{ status: "queued" }] });

/** POST /api/v1/users/me/export, mounted under /api/v1. */
export const exportRequestRoutes = (deps: Deps) =>
  new Elysia({ name: "export-request-routes", detail: { tags: ["users"] } }).use(authGuard(deps)).post(
    "/users/me/export",
    async ({ auth, set }) => {
      const queued = await requestExport(deps, auth.user);
      set.status = 202;
      return queued;
    },
    {
      auth: true,
      rateLimit: "exports",
      response: { 202: ExportQueued, 401: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema },
      detail: {
        summary: "Ask for a copy of your data: a zip is made in the background and its download link mailed to you",
        description:
          "The zip holds profile.json, loops.json (each loop's metadata; for a ready loop its original and MP3 under loops/<id>/), " +
          "following.json, followers.json, reactions.json and plays.json. The mailed link, `PUBLIC_URL/export/<token>`, works any " +
          "number of times for 7 days; then the zip is deleted. One request per account per day (429 after); 409 `email_required` " +
          "for an account without an email address.",
      },
    },
  );

const notFound = () => errors.notFound("export_not_found", "This download link is unknown or has expired");

/** GET /export/:token, at the root: the link in the mail. */
export const exportDownloadRoutes = (deps: Deps) =>
  new Elysia({ name: "export-download-routes", detail: { tags: ["users"] } }).get(
    "/export/:token",
    async ({ params }) => {
      // A token is 43 base64url characters; anything else is not one, and never reaches the database.
      if (!/^[A-Za-z0-9_-]{43}$/.test(params.token)) throw notFound();
      const found = await openExport(deps, params.token);
      if (!found) throw notFound();
      const date = new Date(found.createdAt).toISOString().slice(0, 10);
      return new Response(found.object.body, {
        headers: {
          "content-type": "application/zip",
          "content-length": String(found.object.size),
          "content-disposition": `attachment; filename="sidechain-${found.username}-${date}.zip"`,
          "cache-control": "no-store",
          "referrer-policy": "no-referrer",
          "x-content-type-options": "nosniff",
        },
      });
    },
    {
      params: t.Object({ token: t.String({ maxLength: 200, description: "the token of the mailed link" }) }),
      response: {
        200: t.String({ format: "binary", description: "the zip (application/zip), as an attachment", examples: ["PK\u0003\u0004…"] }),
        404: ErrorSchema,
      },
      detail: {
        summary: "Download a data export by its mailed link",
        description:
          "Streams the zip while the link is live (7 days, any number of times); 404 `export_not_found` for an unknown or expired link. Never cached.",
      },
    },
  );

// Posting a loop from the browser (docs/architecture.md "Web app"):
//   GET  /upload             the form: a drop zone for the file, title, BPM, key, genres, DAW (signed in)
//   POST /upload             multipart, the API upload's path (src/audio/upload.ts: receiveUpload, uploadLoopForm,
//                            the "uploads" rate limit, the size limits, the same errors); 303 to /upload/:id, or
//                            JSON { post_id, status, url } to the script
//   GET  /upload/:id         the processing status as a page (refreshes itself while processing)
//   GET  /upload/:id/status  the same as JSON for the script (getUploadStatus, as GET /api/v1/audio/status)
// The CSRF token comes in the x-csrf-token header (the script) or the form's csrf field, which the form puts before
// the file so it is checked before any of the file is written (docs/security.md "Web app").
import { Elysia, t } from "elysia";
import { getUploadStatus, uploadBody, uploadLoopForm } from "../audio/upload.ts";
import { receiveWebUpload } from "./upload-form.ts";
import { readBrowserSession, signInPath } from "../auth/browser-session.ts";
import type { Auth } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { bodies } from "../http/body.ts";
import { withCookies } from "../http/cookies.ts";
import { ApiError, ErrorSchema, errors } from "../http/errors.ts";
import { pageContext, type PageContext, seeOther, browserActionDoc } from "./context.ts";
import { htmlResponder, HIDDEN } from "./html.ts";
import { Shell } from "./shell.tsx";
import { byteSize } from "../lib/text.ts";
import { type Quota, uploadQuota } from "../audio/quota.ts";
import { NotFoundPage } from "./ui/not-found.tsx";

const ACCEPT = ".wav,.aif,.aiff,.flac,.mp3,.ogg,audio/*";
const FIELDS = ["filename", "bpm", "key", "genre", "daw"] as const;
type Values = Partial<Record<(typeof FIELDS)[number], string>>;

const wantsJson = (request: Request) => (request.headers.get("accept") ?? "").includes("application/json");

const StatusJson = t.Object(
  {
    status: t.Union([t.Literal("processing"), t.Literal("ready"), t.Literal("failed")]),
    progress: t.Integer({ minimum: 0, maximum: 100 }),
    error: t.Optional(t.String({ description: "why processing failed (only when status is failed)" })),
    message: t.Optional(t.String()),
  },
  { examples: [{ status: "processing", progress: 40 }] },
);

type Status = Awaited<ReturnType<typeof getUploadStatus>>;

export const uploadRoutes = (deps: Deps) => {
  const { config } = deps;
  const html = htmlResponder(deps);
  const instance = deps.caches.instance;

  const shell = (ctx: PageContext, title: string, body: JSX.Element, head = "") =>
    (
      <Shell title={title} instance={instance} viewer={ctx.viewer} path="/upload" csrf={ctx.csrf.token} head={head} narrow>
        {body as "safe"}
      </Shell>
    ) as JSX.Element;

  /** What is left of the member's quotas (README "Upload quotas"); nothing when they have none. */
  const QuotaLine = ({ quota: q }: { quota: Quota }) => {
    const parts = [
      q.loops_per_day ? `${q.loops_today} of ${q.loops_per_day} loops today` : "",
      q.bytes_quota ? `${byteSize(q.bytes_used)} of ${byteSize(q.bytes_quota)} used` : "",
    ].filter(Boolean);
    return parts.length ? (
      <p class="muted" data-quota safe>
        {`Your quota: ${parts.join(" · ")}`}
      </p>
    ) : (
      ""
    );
  };

  const uploadPage = async (ctx: PageContext, opts: { status?: number; error?: ApiError; values?: Values } = {}) => {
    const v = opts.values ?? {};
    const quota = ctx.auth ? await uploadQuota(deps, ctx.auth.user.id) : null;
    const problems = Object.values(opts.error?.fields ?? {});
    const body = await shell(
      ctx,
      "Upload a loop",
      <>
        <h1>Upload a loop</h1>
        <div class="error" role="alert" data-upload-error>
          {opts.error ? (
            <>
              <p safe>{opts.error.message}</p>
              {problems.length ? (
                <ul>
                  {problems.map((p) => (
                    <li safe>{p}</li>
                  ))}
                </ul>
              ) : (
                ""
              )}
            </>
          ) : (
            ""
          )}
        </div>
        <form method="post" action="/upload" enctype="multipart/form-data" class="upload" data-upload data-max-bytes={String(config.UPLOAD_MAX_BYTES)}>
          <input type="hidden" name="csrf" value={ctx.csrf.token} />
          <label class="drop" data-drop>
            <span class="drop-title">Drop your loop here, or choose a file</span>
            <span class="muted">WAV, AIFF, FLAC, MP3 or Ogg, up to {byteSize(config.UPLOAD_MAX_BYTES) as "safe"}</span>
            <input class="file" type="file" name="audio_file" accept={ACCEPT} required data-file />
            <span class="chosen" data-chosen aria-live="polite" />
          </label>
          {quota ? <QuotaLine quota={quota} /> : ""}
          <label for="up-title">Title</label>
          <input id="up-title" name="filename" maxlength="120" value={v.filename ?? ""} placeholder="Midnight chords" />
          <div class="row fields">
            <div>
              <label for="up-bpm">BPM</label>
              <input id="up-bpm" name="bpm" inputmode="decimal" maxlength="20" value={v.bpm ?? ""} placeholder="120" />
            </div>
            <div>
              <label for="up-key">Key</label>
              <input id="up-key" name="key" maxlength="40" value={v.key ?? ""} placeholder="A minor" />
            </div>
          </div>
          <label for="up-genre">Genres</label>
          <input id="up-genre" name="genre" maxlength="200" value={v.genre ?? ""} placeholder="lofi, hip hop" aria-describedby="up-genre-hint" />
          <p class="muted hint" id="up-genre-hint">
            Separated by commas, up to five.
          </p>
          <label for="up-daw">DAW</label>
          <input id="up-daw" name="daw" maxlength="60" value={v.daw ?? ""} placeholder="Ableton Live" />
          <div class="upload-progress" data-upload-progress hidden>
            <progress max="100" value="0" data-progress aria-label="Upload progress" />
            <p class="muted" data-progress-text aria-live="polite" />
          </div>
          <p data-upload-done hidden>
            <a class="button" href="/" data-open-loop>
              Open your loop
            </a>
          </p>
          <button type="submit" class="block" data-submit>
            Upload
          </button>
        </form>
      </>,
    );
    return withCookies(html(body, { status: opts.status, cache: "no-store", headers: opts.error?.headers }), [ctx.csrf.setCookie]);
  };

  const statusPage = async (ctx: PageContext, id: string, s: Status) => {
    const title = s.post.filename || "Untitled loop";
    const body =
      s.status === "processing" ? (
        <>
          <h1>Processing your loop</h1>
          <p safe>{title}</p>
          <progress max="100" value={String(s.progress)} aria-label="Processing progress" />
          <p class="muted" role="status" safe>
            {`${s.progress} % · this page refreshes by itself`}
          </p>
        </>
      ) : s.status === "ready" ? (
        <>
          <h1>Your loop is ready</h1>
          <p safe>{title}</p>
          <p>
            <a class="button" href={`/l/${id}`}>
              Open your loop
            </a>
          </p>
        </>
      ) : (
        <>
          <h1>This loop could not be processed</h1>
          <p class="error" role="alert" safe>
            {s.message ?? "The loop could not be processed"}
          </p>
          <p>
            <a class="button" href="/upload">
              Upload another
            </a>
          </p>
        </>
      );
    const head = s.status === "processing" ? '<meta http-equiv="refresh" content="2"/>' : "";
    return withCookies(html(await shell(ctx, s.status === "ready" ? "Loop ready" : "Upload status", body as JSX.Element, head), { cache: "no-store" }), [
      ctx.csrf.setCookie,
    ]);
  };

  const notFound = async (ctx: PageContext) =>
    html(await (<NotFoundPage instance={instance} viewer={ctx.viewer} path="/upload" what="There is no upload of yours here." />), {
      status: 404,
      cache: "no-store",
    });

  /** The upload's status for its owner only (others, and unknown ids, get the same 404). */
  const ownStatus = async (auth: Auth, id: string): Promise<Status> => {
    const s = await getUploadStatus(deps, id, auth.user.id);
    if (s.post.user_id !== auth.user.id) throw errors.notFound("post_not_found", "No such post");
    return s;
  };

  const post = async (request: Request): Promise<Response> => {
    const json = wantsJson(request);
    let values: Values = {};
    try {
      const outcome = await receiveWebUpload(deps, request, "/upload", async (auth, fields) => {
        for (const f of FIELDS) if (typeof fields[f] === "string") values[f] = fields[f] as string;
        return uploadLoopForm(deps, auth.user.id, fields, null);
      });
      if (outcome instanceof Response) return outcome;
      const { created, post } = outcome;
      if (!json) return seeOther(`/upload/${post.id}`);
      const status = post.status === "ready" ? (created ? 201 : 200) : 202;
      return Response.json({ post_id: post.id, status: post.status, url: `/l/${post.id}` }, { status, headers: { "cache-control": "no-store" } });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      deps.metrics.uploadRefused(err.code);
      if (json) return err.toResponse({ "cache-control": "no-store" });
      const ctx = await pageContext(deps, request);
      if (!ctx.auth) return seeOther(signInPath("/upload"));
      if (err.code === "csrf_failed") values = {};
      return uploadPage(ctx, { status: err.status, error: err, values });
    }
  };

  return new Elysia({ name: "web-upload" })
    .use(bodies(config.BODY_MAX_BYTES))
    .get(
      "/upload",
      async ({ request }) => {
        const ctx = await pageContext(deps, request);
        if (!ctx.auth) return seeOther(signInPath("/upload"));
        return uploadPage(ctx);
      },
      HIDDEN,
    )
    .post("/upload", ({ request }) => post(request), {
      ...browserActionDoc(
        "Upload a loop from the web app (multipart, the same fields and limits as /api/v1/audio/upload)",
        t.Object(
          { post_id: t.String(), status: t.String(), url: t.String() },
          { examples: [{ post_id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b", status: "ready", url: "/l/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b" }] },
        ),
      ),
      accepts: uploadBody(config),
    })
    .get(
      "/upload/:id",
      async ({ request, params }) => {
        const ctx = await pageContext(deps, request);
        if (!ctx.auth) return seeOther(signInPath(`/upload/${params.id}`));
        try {
          return await statusPage(ctx, params.id, await ownStatus(ctx.auth, params.id));
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) return notFound(ctx);
          throw err;
        }
      },
      { ...HIDDEN, params: t.Object({ id: t.String({ maxLength: 64 }) }) },
    )
    .get(
      "/upload/:id/status",
      async ({ request, params }) => {
        try {
          const auth = await readBrowserSession(deps, request);
          if (!auth) throw errors.unauthorized("unauthorized", "Sign in first");
          const { status, progress, error, message } = await ownStatus(auth, params.id);
          return Response.json({ status, progress, ...(error === undefined ? {} : { error, message }) }, { headers: { "cache-control": "no-store" } });
        } catch (err) {
          if (err instanceof ApiError) return err.toResponse({ "cache-control": "no-store" });
          throw err;
        }
      },
      {
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        response: { 200: StatusJson, 401: ErrorSchema, 404: ErrorSchema },
        detail: { tags: ["web"], summary: "Processing status of your upload, for the web app's upload page (browser session cookie)" },
      },
    );
};

// The web app's comments (README "Comments"): the section of the loop page (web/ui/comments.tsx) and its two forms,
// the browser's doors to the services the API calls (social/comments.ts), under the API's `comments` rate limit.
//   POST /l/:id/comments       fields content, parent_id (a reply), at (seconds into the loop) → 303 to the comment
//   POST /comments/:id/remove  delete (its author, the loop's producer, staff) → 303 back to `next`
//   POST /comments/:id/like    field like = 1 likes, 0 unlikes (absent: toggle) → 303 back to `next`
//   POST /comments/:id/edit    field content: your own comment, within the edit window → 303 back to `next`
// CSRF-checked and signed in by the browser-session cookie (signed out: the sign-in page, back to the loop). A plain
// form that is refused gets a page saying why, with a link back; the client script (accept: application/json) gets
// the API's JSON or error.
import { Elysia, t } from "elysia";
import { signInPath } from "../auth/browser-session.ts";
import type { Auth } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { clientIp, parseTrustedProxies } from "../http/client-ip.ts";
import { ApiError, errors } from "../http/errors.ts";
import { safeRedirectPath } from "../http/redirect.ts";
import type { PostRow, PostT } from "../posts/models.ts";
import { createComment, deleteComment, likeComment, listComments, updateComment, viewerOf as commentViewer } from "../social/comments.ts";
import { asForm, browserActionDoc, browserWriter, type Form, formText, seeOther, viewerOf, wantsJson } from "./context.ts";
import { htmlResponder } from "./html.ts";
import { Shell, type Viewer } from "./shell.tsx";
import { Comments, PAGE_COMMENTS } from "./ui/comments.tsx";

/** The most pages of comments the loop page goes to (?comments=N): 50,000 top-level comments. */
export const MAX_COMMENT_PAGE = 1000;

/** The page number of ?comments=N: a whole number from 1 to MAX_COMMENT_PAGE, 1 for anything else. */
export function commentPage(raw: string | null | undefined): number {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_COMMENT_PAGE ? n : 1;
}

/** The loop page's comments section, as this viewer sees it: page `page` (from 1) of its top-level comments. */
export async function loopComments(deps: Deps, row: PostRow, post: PostT, auth: Auth | null, csrf?: string, page = 1): Promise<JSX.Element> {
  const list = await listComments(deps, row.id, commentViewer(auth?.user), { limit: PAGE_COMMENTS, offset: (page - 1) * PAGE_COMMENTS });
  return (await (<Comments post={post} audience={row.commentAudience} list={list} page={page} signedIn={Boolean(auth)} csrf={csrf} />)) as JSX.Element;
}

function Refused(p: { instance: Deps["caches"]["instance"]; viewer: Viewer; message: string; back: string }): JSX.Element {
  return (
    <Shell title="Comment not saved" instance={p.instance} viewer={p.viewer} path="/comments" narrow>
      <h1>Comment not saved</h1>
      <p class="notice error" role="alert" safe>
        {p.message}
      </p>
      <p>
        <a class="button" href={p.back}>
          Back to the loop
        </a>
      </p>
    </Shell>
  ) as JSX.Element;
}

/** The seconds field as ms: "" or absent is none; anything else must be a number (the service checks the range). */
function atMs(raw: unknown): number | null {
  const s = formText(raw, 16).trim();
  if (!s) return null;
  const seconds = Number(s);
  if (!Number.isFinite(seconds)) throw errors.validation({ at: "A number of seconds into the loop" });
  return Math.round(seconds * 1000);
}

export const commentActions = (deps: Deps) => {
  const html = htmlResponder(deps);
  const trusted = parseTrustedProxies(deps.config.TRUSTED_PROXIES);

  /** Runs a comment write; a plain form's refusal is a page that says why. */
  async function run(request: Request, form: Form, back: string, act: (auth: Auth) => Promise<{ json: unknown; to: string }>) {
    const json = wantsJson(request);
    let auth: Auth | null = null;
    try {
      auth = await browserWriter(deps, request, form);
      if (!auth) {
        if (!json) return seeOther(signInPath(back));
        throw errors.unauthorized("unauthorized", "Sign in first");
      }
      const done = await act(auth);
      return json ? Response.json(done.json, { headers: { "cache-control": "no-store" } }) : seeOther(done.to, back);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (json) return err.toResponse({ "cache-control": "no-store" });
      const detail = err.fields ? Object.values(err.fields).join("; ") : "";
      const message = err.code === "validation_error" && detail ? detail : err.message;
      const viewer = auth ? await viewerOf(deps, auth) : null;
      return html(await (<Refused instance={deps.caches.instance} viewer={viewer} message={message} back={back} />), { status: err.status, cache: "no-store" });
    }
  }

  return new Elysia({ name: "web-comment-actions" })
    .post(
      "/l/:id/comments",
      ({ request, params, body }) => {
        const form = asForm(body);
        const postId = formText(params.id, 64);
        const back = `/l/${encodeURIComponent(postId)}#comments`;
        return run(request, form, back, async (auth) => {
          await deps.routeLimits.hit("comments", { ip: clientIp(request, trusted), userId: auth.user.id });
          const c = await createComment(deps, commentViewer(auth.user)!, postId, {
            content: formText(form.content, 8000),
            parent_id: formText(form.parent_id, 64) || undefined,
            at_ms: atMs(form.at),
          });
          return { json: c, to: `/l/${encodeURIComponent(postId)}#c-${c.id}` };
        });
      },
      browserActionDoc(
        "Comment on a loop from the web app: fields content, parent_id (a reply), at (seconds into the loop)",
        t.Object({ id: t.String(), content: t.String() }, { examples: [{ id: "01934f90-2222-7000-8000-000000000001", content: "That filter sweep 🔥" }] }),
      ),
    )
    .post(
      "/comments/:id/like",
      ({ request, params, body }) => {
        const form = asForm(body);
        const back = safeRedirectPath(form.next) ?? "/";
        const want = form.like === "1" ? true : form.like === "0" ? false : "toggle";
        return run(request, form, back, async (auth) => {
          await deps.routeLimits.hit("reactions", { ip: clientIp(request, trusted), userId: auth.user.id });
          return { json: await likeComment(deps, auth.user.id, formText(params.id, 64), want), to: back };
        });
      },
      browserActionDoc(
        "Like or unlike a comment from the web app: field like=1 or 0 (absent: toggle)",
        t.Object({ like_count: t.Integer(), is_liked: t.Boolean() }, { examples: [{ like_count: 3, is_liked: true }] }),
      ),
    )
    .post(
      "/comments/:id/edit",
      ({ request, params, body }) => {
        const form = asForm(body);
        const back = safeRedirectPath(form.next) ?? "/";
        return run(request, form, back, async (auth) => {
          await deps.routeLimits.hit("comments", { ip: clientIp(request, trusted), userId: auth.user.id });
          return { json: await updateComment(deps, commentViewer(auth.user)!, formText(params.id, 64), formText(form.content, 8000)), to: back };
        });
      },
      browserActionDoc(
        "Edit your comment from the web app (within 15 minutes of writing it): field content",
        t.Object(
          { id: t.String(), content: t.String(), is_edited: t.Boolean() },
          { examples: [{ id: "01934f90-2222-7000-8000-000000000001", content: "That filter sweep 🔥🔥", is_edited: true }] },
        ),
      ),
    )
    .post(
      "/comments/:id/remove",
      ({ request, params, body }) => {
        const form = asForm(body);
        const back = safeRedirectPath(form.next) ?? "/";
        return run(request, form, back, async (auth) => ({
          json: await deleteComment(deps, commentViewer(auth.user)!, formText(params.id, 64)),
          to: back,
        }));
      },
      browserActionDoc(
        "Delete a comment from the web app (its author, the loop's producer, staff), with its replies",
        t.Object(
          { ok: t.Literal(true), deleted: t.Literal(true), id: t.String(), comment_count: t.Integer() },
          { examples: [{ ok: true, deleted: true, id: "01934f90-2222-7000-8000-000000000001", comment_count: 3 }] },
        ),
      ),
    );
};

// Comments over HTTP (docs/plugin-contract.md "Comments"): the plugin's routes (CommentsClient.cpp) with their
// transport quirks. Its DELETE /comments/{id} arrives as a bodiless GET /comments/{id}: that GET, recognised as the
// plugin's exactly as for posts (isPluginDelete), deletes; every other GET reads. Its like (an empty POST) and unlike
// (a bodiless DELETE) both arrive as GET /comments/{id}/like, so that GET toggles; POST with a body likes and DELETE
// unlikes, both idempotent. Its edit (PUT with a body) arrives as POST /comments/{id}.
import { Elysia, type Static, t } from "elysia";
import { memoizedJson } from "../http/json-body.ts";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { encodeCursor, PageMeta, PageQuery, parsePage } from "../http/pagination.ts";
import { isPluginDelete } from "../http/plugin-delete.ts";
import { notePostsSeen } from "../realtime/events.ts";
import { fileReport, REPORT_REASONS, type ReportReason } from "../admin/reports.ts";
import {
  COMMENT_MAX,
  type CommentList,
  commentView,
  createComment,
  deleteComment,
  likeComment,
  listComments,
  listReplies,
  updateComment,
  viewerOf,
} from "./comments.ts";

const commentExample = {
  id: "01934f90-2222-7000-8000-000000000001",
  post_id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
  user_id: "01934f70-0000-7000-8000-00000000000a",
  username: "nightbeats",
  display_name: "Night Beats",
  user_avatar_url: "",
  content: "That filter sweep at the drop 🔥",
  parent_id: "",
  at_ms: 4200,
  like_count: 2,
  reply_count: 0,
  is_liked: false,
  is_own_comment: false,
  can_edit: false,
  can_delete: false,
  is_edited: false,
  created_at: "2026-11-25T21:05:00.000Z",
  updated_at: "2026-11-25T21:05:00.000Z",
  replies: [],
};

const fields = {
  id: t.String(),
  post_id: t.String(),
  user_id: t.String({ description: "the author" }),
  username: t.String(),
  display_name: t.String(),
  user_avatar_url: t.String({ description: '"" without a picture' }),
  content: t.String(),
  parent_id: t.String({ description: 'the top-level comment replied to; "" for a top-level comment' }),
  at_ms: t.Union([t.Integer({ minimum: 0 }), t.Null()], { description: "the moment of the loop commented on, in ms; null for the whole loop" }),
  like_count: t.Integer(),
  reply_count: t.Integer(),
  is_liked: t.Boolean({ description: "the viewer likes it" }),
  is_own_comment: t.Boolean(),
  can_edit: t.Boolean({ description: "the viewer's own, written less than 15 minutes ago" }),
  can_delete: t.Boolean({ description: "the viewer's own, on the viewer's loop, or the viewer is staff" }),
  is_edited: t.Boolean(),
  created_at: t.String({ format: "date-time" }),
  updated_at: t.String({ format: "date-time", description: "the last edit, or created_at" }),
};
const Reply = t.Object({ ...fields, replies: t.Array(t.Object({}), { maxItems: 0, description: "always [] on a reply" }) });
const Comment = t.Object(
  { ...fields, replies: t.Array(Reply, { description: "top-level comments of a list: their first 20 replies, oldest first; otherwise []" }) },
  { examples: [commentExample] },
);

const meta = { count: 1, has_more: false, next_cursor: "" };
const CommentPage = t.Object(
  {
    comments: t.Array(Comment, { description: "top-level comments, oldest first, each with its first replies" }),
    total_count: t.Integer({ description: "top-level comments you see (what offset pages over)" }),
    has_more: t.Boolean(),
    meta: PageMeta,
  },
  { examples: [{ comments: [commentExample], total_count: 1, has_more: false, meta }] },
);
const ReplyPage = t.Object(
  { replies: t.Array(Comment), total_count: t.Integer(), has_more: t.Boolean(), meta: PageMeta },
  { examples: [{ replies: [{ ...commentExample, parent_id: commentExample.id }], total_count: 1, has_more: false, meta }] },
);
const Deleted = t.Object(
  { ok: t.Literal(true), deleted: t.Literal(true), id: t.String(), comment_count: t.Integer({ description: "the loop's comments now" }) },
  { examples: [{ ok: true, deleted: true, id: commentExample.id, comment_count: 4 }] },
);
const LikeState = t.Object({ like_count: t.Integer(), is_liked: t.Boolean() }, { examples: [{ like_count: 3, is_liked: true }] });

const content = t.String({ maxLength: COMMENT_MAX * 8, description: `1 to ${COMMENT_MAX} characters (after trimming); several lines allowed` });
const CreateBody = t.Object({
  content,
  parent_id: t.Optional(
    t.String({ maxLength: 64, description: 'reply to this comment ("" or absent: a top-level comment); a reply to a reply joins its thread' }),
  ),
  at_ms: t.Optional(t.Union([t.Integer({ minimum: 0 }), t.Null()], { description: "a moment of the loop, 0 to its duration in ms" })),
});
const EditBody = t.Object({ content });
const ReportBody = t.Object({
  reason: t.String({
    minLength: 1,
    maxLength: 64,
    description: `${REPORT_REASONS.join(", ")}; any other reason is filed as "other" with its text in the note`,
  }),
  description: t.Optional(t.String({ maxLength: 2000, description: "what the staff should know" })),
});
const IdParams = t.Object({ id: t.String({ maxLength: 64 }) });
const errs = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema };

const pageOut = (list: CommentList) => ({
  total_count: list.total_count,
  has_more: list.has_more,
  meta: {
    count: list.comments.length,
    has_more: list.has_more,
    next_cursor: list.next ? encodeCursor({ createdAt: list.next.createdAt, id: list.next.id }) : "",
  },
});

/**
 * A comment page's answer, serialized here rather than by Elysia (whose response encoding costs more than the cached
 * page itself): the comments array comes from the comment cache (social/comments.ts listComments), as anyone sees
 * it or a viewer's frozen copies of it, so its JSON is checked and made once per array and meta (http/json-body.ts).
 */
const commentJson = memoizedJson<Static<typeof CommentPage>>(CommentPage, "comment page");
function commentPageAnswer(list: CommentList) {
  const page = { comments: list.comments, ...pageOut(list) };
  return commentJson(page, list.comments, [page.meta, page.total_count]);
}

export const commentRoutes = (deps: Deps) => {
  const edit = {
    auth: true,
    rateLimit: "comments",
    params: IdParams,
    parse: "json",
    body: EditBody,
    response: { 200: Comment, ...errs },
  } as const;
  const remove = { auth: true, params: IdParams, response: { 200: Deleted, ...errs } } as const;
  const like = { auth: true, rateLimit: "reactions", params: IdParams, response: { 200: LikeState, ...errs } } as const;
  const listing = { viewer: true, params: IdParams, query: PageQuery } as const;
  const listErrs = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema };

  return new Elysia({ name: "comment-routes", detail: { tags: ["comments"] } })
    .use(authGuard(deps))
    .get(
      "/posts/:id/comments",
      async ({ params, query, viewer }) => {
        const v = viewerOf(viewer?.user);
        const list = await listComments(deps, params.id, v, parsePage(query));
        void notePostsSeen(deps, v?.id, [params.id]).catch(() => undefined); // new comments reach this reader live
        return commentPageAnswer(list);
      },
      {
        ...listing,
        response: { 200: CommentPage, ...listErrs },
        detail: { summary: "A loop's comments: top-level, oldest first, each with its first replies (limit/offset or cursor)" },
      },
    )
    .post("/posts/:id/comments", ({ auth, params, body }) => createComment(deps, viewerOf(auth.user)!, params.id, body), {
      auth: true,
      rateLimit: "comments",
      params: IdParams,
      parse: "json",
      body: CreateBody,
      response: { 200: Comment, ...errs },
      detail: {
        summary: "Comment on a loop, or reply to a comment (parent_id), optionally at a moment of it (at_ms)",
        description:
          "Refused with 403 comments_off / comments_followers_only as the loop's comment_audience says, 404 for a loop you cannot see " +
          "(blocked either way, not published), 400 validation_error for empty, too long or invisible-character text, an unknown parent " +
          "or an at_ms outside the loop.",
      },
    })
    .get(
      "/comments/:id/replies",
      async ({ params, query, viewer }) => {
        const list = await listReplies(deps, params.id, viewerOf(viewer?.user), parsePage(query));
        return { replies: list.comments, ...pageOut(list) };
      },
      {
        ...listing,
        response: { 200: ReplyPage, ...listErrs },
        detail: { summary: "A comment's replies, oldest first (limit/offset or cursor)" },
      },
    )
    .get(
      "/comments/:id",
      async ({ params, viewer, request }) => {
        const v = viewerOf(viewer?.user);
        if (v && isPluginDelete(request)) return deleteComment(deps, v, params.id);
        return commentView(deps, params.id, v);
      },
      {
        viewer: true,
        params: IdParams,
        response: { 200: t.Union([Comment, Deleted], { examples: [commentExample] }), ...errs },
        detail: {
          summary: "One comment; the plugin's delete",
          description:
            "A read, except for the plugin's delete (its DELETE arrives as this GET): a bodiless GET with a bearer token, " +
            "Content-Type: application/json, no query string and no browser headers deletes the comment as DELETE does. Other clients " +
            "read without a Content-Type.",
        },
      },
    )
    .put("/comments/:id", ({ auth, params, body }) => updateComment(deps, viewerOf(auth.user)!, params.id, body.content), {
      ...edit,
      detail: { summary: "Edit your comment (within 15 minutes of writing it)" },
    })
    .post("/comments/:id", ({ auth, params, body }) => updateComment(deps, viewerOf(auth.user)!, params.id, body.content), {
      ...edit,
      detail: { summary: "Edit your comment (the plugin's PUT arrives as this POST)" },
    })
    .delete("/comments/:id", ({ auth, params }) => deleteComment(deps, viewerOf(auth.user)!, params.id), {
      ...remove,
      detail: { summary: "Delete a comment with its replies (its author, the loop's producer, or staff)" },
    })
    .post("/comments/:id/delete", ({ auth, params }) => deleteComment(deps, viewerOf(auth.user)!, params.id), {
      ...remove,
      detail: { summary: "Delete a comment (alias of DELETE for clients that cannot send it)" },
    })
    .get("/comments/:id/like", ({ auth, params }) => likeComment(deps, auth.user.id, params.id, "toggle"), {
      ...like,
      detail: { summary: "Toggle your like of a comment (the plugin's like and unlike both arrive as this GET)" },
    })
    .post("/comments/:id/like", ({ auth, params }) => likeComment(deps, auth.user.id, params.id, true), {
      ...like,
      detail: { summary: "Like a comment (idempotent)" },
    })
    .delete("/comments/:id/like", ({ auth, params }) => likeComment(deps, auth.user.id, params.id, false), {
      ...like,
      detail: { summary: "Unlike a comment (idempotent)" },
    })
    .post(
      "/comments/:id/report",
      async ({ auth, params, body }) => {
        const reason = body.reason.trim().toLowerCase();
        const known = (REPORT_REASONS as readonly string[]).includes(reason);
        const note = [known ? "" : body.reason.trim(), body.description ?? ""].filter(Boolean).join(": ").slice(0, 1000);
        const r = await fileReport(deps, auth.user, {
          target_type: "comment",
          target_id: params.id,
          reason: (known ? reason : "other") as ReportReason,
          note,
        });
        return { ok: true as const, id: r.id, status: "open" as const };
      },
      {
        auth: true,
        rateLimit: "reports",
        params: IdParams,
        parse: "json",
        body: ReportBody,
        response: {
          200: t.Object(
            { ok: t.Literal(true), id: t.String(), status: t.Literal("open") },
            { examples: [{ ok: true, id: commentExample.id, status: "open" }] },
          ),
          ...errs,
        },
        detail: { summary: "Report a comment to the staff (one open report per comment; 409 already_reported)" },
      },
    );
};

// /api/v1/posts and a user's post list. The plugin's DELETE arrives as GET /posts/{id} and stays a read; the
// plugin-safe delete is POST /posts/{id}/delete.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { PageMeta, PageQuery, pageOf, parsePage } from "../http/pagination.ts";
import { Post, postExample } from "./models.ts";
import { enrichPosts } from "./enrich.ts";
import { notePostsSeen } from "../realtime/events.ts";
import { countUserPosts, deletePost, findVisiblePost, listUserPosts } from "./service.ts";

const Ok = t.Object({ ok: t.Literal(true) }, { examples: [{ ok: true }] });
const IdParams = t.Object({ id: t.String({ maxLength: 64 }) });
const UserPosts = t.Object(
  { posts: t.Array(Post), meta: PageMeta, total: t.Integer(), has_more: t.Boolean() },
  { examples: [{ posts: [postExample], meta: { count: 1, has_more: false, next_cursor: "" }, total: 1, has_more: false }] },
);

export const postRoutes = (deps: Deps) =>
  new Elysia({ name: "post-routes", detail: { tags: ["posts"] } })
    .use(authGuard(deps))
    .get(
      "/posts/:id",
      async ({ params, viewer }) => {
        const viewerId = viewer?.user.id ?? null;
        const row = await findVisiblePost(deps, params.id, viewerId);
        if (!row) throw errors.notFound("post_not_found", "No such post");
        void notePostsSeen(deps, viewerId, [row.post.id]).catch(() => undefined); // live like counts for this viewer
        return (await enrichPosts(deps, [row], viewerId))[0]!;
      },
      {
        viewer: true,
        params: IdParams,
        response: { 200: Post, 404: ErrorSchema },
        detail: { summary: "One post (a post still processing is visible to its owner only)" },
      },
    )
    .delete("/posts/:id", async ({ params, auth }) => (await deletePost(deps, params.id, auth.user.id), { ok: true as const }), {
      auth: true,
      params: IdParams,
      response: { 200: Ok, 401: ErrorSchema, 404: ErrorSchema },
      detail: { summary: "Delete your post and its media" },
    })
    .post("/posts/:id/delete", async ({ params, auth }) => (await deletePost(deps, params.id, auth.user.id), { ok: true as const }), {
      auth: true,
      params: IdParams,
      response: { 200: Ok, 401: ErrorSchema, 404: ErrorSchema },
      detail: { summary: "Delete your post and its media (plugin alias of DELETE)" },
    })
    .get(
      "/users/:id/posts",
      async ({ params, query, viewer }) => {
        const page = parsePage(query);
        const viewerId = viewer?.user.id ?? null;
        const rows = await listUserPosts(deps, params.id, viewerId, page);
        const { items, meta } = pageOf(rows, page, (r) => ({ createdAt: r.post.createdAt, id: r.post.id }));
        const total = await countUserPosts(deps, params.id, viewerId === params.id);
        void notePostsSeen(deps, viewerId, items.map((r) => r.post.id)).catch(() => undefined);
        return { posts: await enrichPosts(deps, items, viewerId), meta, total, has_more: meta.has_more };
      },
      {
        viewer: true,
        params: IdParams,
        query: PageQuery,
        response: { 200: UserPosts, 400: ErrorSchema },
        detail: { summary: "A user's posts, newest first (the owner also sees processing and failed ones)" },
      },
    );

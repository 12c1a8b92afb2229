// /api/v1/posts and a user's post list. The plugin's DELETE arrives as GET /posts/{id} (JUCE sends GET when there
// is no body): that request, and only that one, deletes (isPluginDelete below); every other GET is a read. The
// delete for every other client is DELETE /posts/{id} or POST /posts/{id}/delete.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { PageMeta, PageQuery, pageOf, parsePage } from "../http/pagination.ts";
import { Post, postExample } from "./models.ts";
import { enrichPosts } from "./enrich.ts";
import { notePostsSeen } from "../realtime/events.ts";
import { countUserPosts, deletePost, findVisiblePost, listUserPosts } from "./service.ts";
import { downloadInfo } from "./download.ts";
import { blockedBetween } from "../social/block-states.ts";
import { isPluginDelete } from "../http/plugin-delete.ts";

export { isPluginDelete };

const Ok = t.Object({ ok: t.Literal(true) }, { examples: [{ ok: true }] });
const Deleted = t.Object(
  { ok: t.Literal(true), deleted: t.Literal(true), id: t.String() },
  { description: "the plugin's delete (see the description)", examples: [{ ok: true, deleted: true, id: postExample.id }] },
);
const Download = t.Object(
  {
    download_url: t.String({ description: "a WAV any DAW reads (the original upload, metadata stripped); fetched without auth" }),
    filename: t.String({ description: "a safe file name ending in .wav" }),
    metadata: t.Object({
      post_id: t.String(),
      title: t.String(),
      producer: t.String(),
      bpm: t.Number(),
      key: t.String(),
      duration_seconds: t.Number(),
      duration_bars: t.Integer(),
      genres: t.Array(t.String()),
      daw: t.String(),
      format: t.Literal("wav"),
    }),
  },
  {
    examples: [
      {
        download_url: "http://localhost:8787/media/loops/01934f80/9c1d-download.wav",
        filename: "Midnight chords.wav",
        metadata: {
          post_id: postExample.id,
          title: "Midnight chords",
          producer: "nightbeats",
          bpm: 120,
          key: "Am",
          duration_seconds: 16,
          duration_bars: 8,
          genres: ["lofi"],
          daw: "Ableton Live",
          format: "wav",
        },
      },
    ],
  },
);
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
      async ({ params, viewer, request }) => {
        const viewerId = viewer?.user.id ?? null;
        const row = await findVisiblePost(deps, params.id, viewerId);
        if (!row) throw errors.notFound("post_not_found", "No such post");
        if (viewerId !== null && row.post.userId === viewerId && isPluginDelete(request)) {
          await deletePost(deps, row.post.id, viewerId);
          return { ok: true as const, deleted: true as const, id: row.post.id };
        }
        void notePostsSeen(deps, viewerId, [row.post.id]).catch(() => undefined); // live like counts for this viewer
        return (await enrichPosts(deps, [row], viewerId))[0]!;
      },
      {
        viewer: true,
        params: IdParams,
        response: { 200: t.Union([Post, Deleted], { examples: [postExample] }), 404: ErrorSchema },
        detail: {
          summary: "One post (a post still processing is visible to its owner only); the plugin's delete",
          description:
            "A read, except for the plugin's delete (its DELETE arrives as this GET): a bodiless GET by the post's owner with a " +
            "bearer token, Content-Type: application/json, no query string and no browser headers (Sec-Fetch-*, Origin, Referer, " +
            "Cookie, Purpose) deletes the post and answers {ok, deleted, id}. Other clients read without a Content-Type and " +
            "delete with DELETE or POST /posts/{id}/delete.",
        },
      },
    )
    .get("/posts/:id/download", ({ params, viewer }) => downloadInfo(deps, params.id, viewer?.user.id ?? null), {
      viewer: true,
      params: IdParams,
      response: { 200: Download, 404: ErrorSchema, 409: ErrorSchema },
      detail: { summary: "Save to DAW folder (plugin; its empty-body POST arrives as GET): a WAV of the loop, its file name and metadata" },
    })
    .post("/posts/:id/download", ({ params, viewer }) => downloadInfo(deps, params.id, viewer?.user.id ?? null), {
      viewer: true,
      params: IdParams,
      response: { 200: Download, 404: ErrorSchema, 409: ErrorSchema },
      detail: { summary: "Save to DAW folder (POST spelling of the GET)" },
    })
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
        // Someone the viewer blocks or is blocked by: the answer for an unknown id (README "Blocking and muting").
        if (viewerId && (await blockedBetween(deps.database.db, viewerId, params.id))) {
          return { posts: [], meta: { count: 0, has_more: false, next_cursor: "" }, total: 0, has_more: false };
        }
        const rows = await listUserPosts(deps, params.id, viewerId, page);
        const { items, meta } = pageOf(rows, page, (r) => ({ createdAt: r.post.createdAt, id: r.post.id }));
        const total = await countUserPosts(deps, params.id, viewerId === params.id);
        void notePostsSeen(
          deps,
          viewerId,
          items.map((r) => r.post.id),
        ).catch(() => undefined);
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

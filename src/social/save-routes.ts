// Saved loops over HTTP (docs/plugin-contract.md "Saves"), by the plugin's paths (its SocialClient): save is a POST
// without a body and unsave a DELETE, and both arrive as `GET /posts/{id}/save`, which therefore toggles; POST and
// DELETE do what they say for other clients. `GET /users/me/saved?limit&offset` is the member's list, as a feed page.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { PageMeta, PageQuery, pageOf, parsePage } from "../http/pagination.ts";
import { enrichPosts } from "../posts/enrich.ts";
import { Post, postExample } from "../posts/models.ts";
import { listSaved, savePost, toggleSave, unsavePost } from "./saves.ts";

const Params = t.Object({ id: t.String({ minLength: 1, maxLength: 64, description: "the loop's id" }) });
const State = t.Object(
  {
    is_saved: t.Boolean({ description: "whether you have the loop saved after the call" }),
    save_count: t.Integer({ description: "how many members have it saved" }),
  },
  { examples: [{ is_saved: true, save_count: 4 }] },
);
const Saved = t.Object(
  { posts: t.Array(Post), meta: PageMeta, has_more: t.Boolean() },
  { examples: [{ posts: [postExample], meta: { count: 1, has_more: false, next_cursor: "" }, has_more: false }] },
);
const errors = { 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema };
const write = { auth: true, rateLimit: "saves", params: Params, response: { 200: State, ...errors } } as const;

export const saveRoutes = (deps: Deps) =>
  new Elysia({ name: "save-routes", detail: { tags: ["social"] } })
    .use(authGuard(deps))
    .get("/posts/:id/save", ({ params, auth }) => toggleSave(deps, auth.user.id, params.id), {
      ...write,
      detail: {
        summary: "Save the loop, or unsave it when saved (the plugin's save and unsave both arrive as this GET)",
        description: "A toggle because the plugin sends its bodiless POST (save) and its DELETE (unsave) as GET. Answers the new state.",
      },
    })
    .post("/posts/:id/save", ({ params, auth }) => savePost(deps, auth.user.id, params.id), {
      ...write,
      detail: { summary: "Save the loop (idempotent)" },
    })
    .delete("/posts/:id/save", ({ params, auth }) => unsavePost(deps, auth.user.id, params.id), {
      ...write,
      detail: { summary: "Unsave the loop (idempotent)" },
    })
    .get(
      "/users/me/saved",
      async ({ query, auth }) => {
        const page = parsePage(query);
        const rows = await listSaved(deps, auth.user.id, page);
        const { items, meta } = pageOf(rows, page, (r) => ({ createdAt: r.savedAt, id: r.post.id }));
        return { posts: await enrichPosts(deps, items, auth.user.id), meta, has_more: meta.has_more };
      },
      {
        auth: true,
        query: PageQuery,
        response: { 200: Saved, 400: ErrorSchema, 401: ErrorSchema },
        detail: { summary: "Your saved loops, most recently saved first (limit and offset, or cursor)" },
      },
    );

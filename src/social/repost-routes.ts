// Reposts over HTTP (docs/plugin-contract.md "Reposts"), by the plugin's paths (its SocialClient): repostPost is a POST
// with a JSON body ({quote} when there is one) and undoRepost a DELETE without a body, which arrives as
// `GET /posts/{id}/repost`; that GET therefore toggles (so a bodiless repost, arriving as the same GET, reposts when
// there is none). POST reposts and DELETE takes back, idempotently, for every client. `GET /posts/{id}/reposts`
// lists who reposted a loop.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { PageMeta, PageQuery, pageOf, parsePage } from "../http/pagination.ts";
import { PublicUser } from "../users/models.ts";
import { toPublicUser, viewerExtras } from "../users/service.ts";
import { cleanQuote, listReposters, QUOTE_MAX, repostPost, toggleRepost, unrepostPost } from "./reposts.ts";

const Params = t.Object({ id: t.String({ minLength: 1, maxLength: 64, description: "the loop's id" }) });
const State = t.Object(
  {
    is_reposted: t.Boolean({ description: "whether you have the loop reposted after the call" }),
    repost_count: t.Integer({ description: "how many members have reposted it" }),
    quote: t.String({ description: 'your quote on it; "" without one or when not reposted' }),
  },
  { examples: [{ is_reposted: true, repost_count: 3, quote: "this bassline 🔥" }] },
);
const Body = t.Object({
  quote: t.Optional(t.String({ maxLength: QUOTE_MAX * 8, description: `up to ${QUOTE_MAX} characters (after trimming); several lines allowed` })),
});
const reposterExample = { user: PublicUser.examples[0], quote: "", created_at: "2026-11-26T09:00:00.000Z" };
const Reposters = t.Object(
  {
    reposts: t.Array(t.Object({ user: PublicUser, quote: t.String(), created_at: t.String({ format: "date-time" }) })),
    meta: PageMeta,
    has_more: t.Boolean(),
  },
  { examples: [{ reposts: [reposterExample], meta: { count: 1, has_more: false, next_cursor: "" }, has_more: false }] },
);
const errors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema };
const write = { auth: true, rateLimit: "reposts", params: Params, response: { 200: State, ...errors } } as const;

export const repostRoutes = (deps: Deps) =>
  new Elysia({ name: "repost-routes", detail: { tags: ["social"] } })
    .use(authGuard(deps))
    .get("/posts/:id/repost", ({ params, auth }) => toggleRepost(deps, auth.user.id, params.id), {
      ...write,
      detail: {
        summary: "Repost the loop, or take your repost back when there is one (the plugin's bodiless repost and its undo arrive as this GET)",
        description: "A toggle because the plugin sends its DELETE (undo) and a POST without a body as GET. Answers the new state.",
      },
    })
    .post("/posts/:id/repost", ({ params, auth, body }) => repostPost(deps, auth.user.id, params.id, cleanQuote(body?.quote)), {
      ...write,
      body: t.Optional(Body),
      detail: {
        summary: "Repost the loop to your followers, with an optional quote (idempotent: a repeat keeps the first repost)",
        description: "Your own loop is 409 own_post; a loop you cannot see is 404 post_not_found; a quote over the limit is 400.",
      },
    })
    .delete("/posts/:id/repost", ({ params, auth }) => unrepostPost(deps, auth.user.id, params.id), {
      ...write,
      detail: { summary: "Take your repost back (idempotent); its notification to the producer goes with it" },
    })
    .get(
      "/posts/:id/reposts",
      async ({ params, query, viewer }) => {
        const page = parsePage(query);
        const rows = await listReposters(deps, viewer?.user.id ?? null, params.id, page);
        const { items, meta } = pageOf(rows, page, (r) => ({ createdAt: r.at, id: r.user.id }));
        const extras = await viewerExtras(deps, viewer?.user.id ?? null, [...new Set(items.map((r) => r.user.id))]);
        const reposts = items.map((r) => ({
          user: toPublicUser(deps, r.user, extras.get(r.user.id)),
          quote: r.quote,
          created_at: new Date(r.at).toISOString(),
        }));
        return { reposts, meta, has_more: meta.has_more };
      },
      {
        viewer: true,
        params: Params,
        query: PageQuery,
        response: { 200: Reposters, 400: ErrorSchema, 404: ErrorSchema },
        detail: { summary: "Who reposted the loop, most recent first (limit and offset, or cursor)" },
      },
    );

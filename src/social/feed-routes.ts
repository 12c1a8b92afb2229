// /api/v1 feeds. The plugin's paths are aliases of the REST ones (same handler): /feed/global/enriched of
// /feed/global, /feed/unified of /feed/timeline (plus its fallback to global), /recommendations/for-you of
// /feed/discovery. Global, trending and discovery are public and personalise with a token; the timeline needs one.
import { Elysia, t } from "elysia";
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { PageQuery, parsePage } from "../http/pagination.ts";
import { Post, postExample } from "../posts/models.ts";
import { decodeRankedCursor, globalFeed, rankedFeed, timelineFeed, unifiedFeed, type FeedPage, type RankedPage } from "./feeds.ts";

const FeedMeta = t.Object({
  count: Type.Integer(),
  has_more: t.Boolean(),
  next_cursor: t.String({ description: "empty when there is no next page" }),
  source: t.Optional(t.Union([t.Literal("timeline"), t.Literal("global")], { description: "unified feed: which feed answered" })),
});
const Feed = t.Object(
  { posts: t.Array(Post), meta: FeedMeta },
  { examples: [{ posts: [postExample], meta: { count: 1, has_more: true, next_cursor: "WzE3NjQxMDQ0MDAwMDAsIjAxOTM0ZjgwIl0" } }] },
);

type Query = { limit?: string; offset?: string; cursor?: string };
type Viewer = { user: { id: string } } | null;

// Nobody signed in: when every author on the page is offline the answer is the cached public page itself (same
// array while the database is unchanged, see feed-cache.ts), so its JSON is made once and the bytes reused,
// instead of Elysia validating and serializing ~25 KB again for every reader. Checked against the same response
// schema when serialized, so a reused body has passed the contract exactly like a fresh one.
const checkFeed = TypeCompiler.Compile(Feed);
const publicBodies = new WeakMap<object, string>();

// (Typed as the page: Elysia sends a returned Response as it is, but its route types cannot say "page or Response".)
function answer(page: FeedPage, viewer: Viewer): FeedPage {
  if (viewer) return page;
  let body = publicBodies.get(page.posts);
  if (body === undefined) {
    if (!checkFeed.Check(page)) throw new Error(`feed page does not match its response schema: ${[...checkFeed.Errors(page)].slice(0, 3).map((e) => e.path).join(", ")}`);
    body = JSON.stringify(page);
    publicBodies.set(page.posts, body);
  }
  return new Response(body, { headers: { "content-type": "application/json;charset=utf-8" } }) as unknown as FeedPage;
}

/** limit/offset as everywhere; the cursor of a ranked feed is its own kind (see feeds.ts). */
function parseRankedPage(q: Query): RankedPage {
  const { limit, offset } = parsePage({ limit: q.limit, offset: q.offset });
  if (q.cursor && offset) throw errors.validation({ cursor: "Use either cursor or offset, not both" });
  return { limit, offset, after: q.cursor ? decodeRankedCursor(q.cursor) : undefined };
}

const publicFeed = { viewer: true, query: PageQuery, response: { 200: Feed, 400: ErrorSchema, 401: ErrorSchema } } as const;
const signedInFeed = { auth: true, query: PageQuery, response: { 200: Feed, 400: ErrorSchema, 401: ErrorSchema } } as const;

export const feedRoutes = (deps: Deps) => {
  const global = async ({ query, viewer }: { query: Query; viewer: Viewer }) => answer(await globalFeed(deps, viewer?.user.id ?? null, parsePage(query)), viewer);
  const trending = async ({ query, viewer }: { query: Query; viewer: Viewer }) =>
    answer(await rankedFeed(deps, viewer?.user.id ?? null, parseRankedPage(query), { excludeFollowed: false }), viewer);
  const discovery = async ({ query, viewer }: { query: Query; viewer: Viewer }) =>
    answer(await rankedFeed(deps, viewer?.user.id ?? null, parseRankedPage(query), { excludeFollowed: true }), viewer);

  return new Elysia({ name: "feed-routes", detail: { tags: ["feeds"] } })
    .use(authGuard(deps))
    .get("/feed/global", global, { ...publicFeed, detail: { summary: "Every ready post, newest first" } })
    .get("/feed/global/enriched", global, { ...publicFeed, detail: { summary: "Every ready post, newest first (plugin alias of /feed/global)" } })
    .get("/feed/timeline", ({ query, auth }) => timelineFeed(deps, auth.user.id, parsePage(query)), {
      ...signedInFeed,
      detail: { summary: "Posts of the people you follow and your own, newest first" },
    })
    .get("/feed/unified", ({ query, auth }) => unifiedFeed(deps, auth.user.id, parsePage(query)), {
      ...signedInFeed,
      detail: { summary: "The timeline; the global feed while you follow nobody (meta.source says which) (plugin)" },
    })
    .get("/feed/trending", trending, {
      ...publicFeed,
      detail: { summary: "Ranked by reactions and plays with time decay over the last 7 days (plugin)" },
    })
    .get("/feed/discovery", discovery, {
      ...publicFeed,
      detail: { summary: "Trending posts from people you do not follow yet (plugin)" },
    })
    .get("/recommendations/for-you", discovery, {
      ...publicFeed,
      detail: { summary: "Trending posts from people you do not follow yet (plugin alias of /feed/discovery)" },
    });
};

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
import { Post, postExample, VIEWER_FIELDS, type PostT } from "../posts/models.ts";
import { publicOriginal } from "../posts/enrich.ts";
import { notePostsSeen } from "../realtime/events.ts";
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
// array while the database is unchanged, see db/read-cache.ts), so its JSON is made once and the bytes reused,
// instead of Elysia validating and serializing ~25 KB again for every reader. Checked against the same response
// schema when serialized, so a reused body has passed the contract exactly like a fresh one.
const checkFeed = TypeCompiler.Compile(Feed);
const publicBodies = new WeakMap<object, string>();

// Signed in: the page is the cached public posts with the viewer's fields changed (posts/enrich.ts). Each public
// post's JSON, checked against the Post schema, is made once (while the post object lives in the page cache) and
// kept as UTF-8 bytes; a viewer's body is those bytes with the per-viewer fields written after them. toPost() ends
// every post with exactly these fields, in the order of VIEWER_FIELDS (posts/models.ts), so the result is byte for
// byte what JSON.stringify(page) gives (tested; and each cached post's split is checked once when it is made).
// Bytes rather than strings: emoji in reaction_counts make the JSON a two-byte string, which every reader's body
// then had to join and transcode to UTF-8 again (measured: a third of a cached timeline request).
const checkPost = TypeCompiler.Compile(Post);
const checkMeta = TypeCompiler.Compile(FeedMeta);
const postHeads = new WeakMap<object, Uint8Array>();
const utf8 = new TextEncoder();
const POSTS_OPEN = utf8.encode('{"posts":[');
/** `,"user_reaction":` and the other keys of the per-viewer tail, in order. */
const TAIL_KEYS = VIEWER_FIELDS.map((f) => [f, `,${JSON.stringify(f)}:`] as const);

/** The end of a post's JSON from its first per-viewer field on: `,"user_reaction":"🔥",...,"is_in_studio":false}`. */
function viewerTail(p: PostT): string {
  let tail = "";
  for (const [field, key] of TAIL_KEYS) tail += key + JSON.stringify(p[field]);
  return `${tail}}`;
}

function postHead(p: PostT): Uint8Array | undefined {
  let head = postHeads.get(p);
  if (head === undefined) {
    if (!checkPost.Check(p)) return undefined;
    const json = JSON.stringify(p);
    const at = json.lastIndexOf(TAIL_KEYS[0]![1]);
    // The head and this post's own tail must give its JSON back exactly, or the post is served the ordinary way.
    if (at < 0 || json.slice(at) !== viewerTail(p)) return undefined;
    head = utf8.encode(json.slice(0, at));
    postHeads.set(p, head);
  }
  return head;
}

function viewerBody(page: FeedPage): Uint8Array<ArrayBuffer> | undefined {
  if (!checkMeta.Check(page.meta)) return undefined;
  const parts: Uint8Array[] = [POSTS_OPEN];
  const last = page.posts.length - 1;
  for (const [i, p] of page.posts.entries()) {
    const original = publicOriginal(p);
    const head = original && postHead(original);
    if (!head) return undefined;
    const tail = viewerTail(p);
    parts.push(head, utf8.encode(i < last ? `${tail},` : tail));
  }
  parts.push(utf8.encode(`],"meta":${JSON.stringify(page.meta)}}`));
  return Buffer.concat(parts) as Uint8Array<ArrayBuffer>;
}

// The last body made from a viewer's posts: personalize() hands the same frozen copies back while nothing changed
// (posts/enrich.ts), so a viewer reading the same page again gets the same bytes without making them again.
const viewerBodies = new WeakMap<readonly PostT[], { meta: string; body: Uint8Array<ArrayBuffer> }>();

function memoViewerBody(page: FeedPage): Uint8Array<ArrayBuffer> | undefined {
  const meta = JSON.stringify(page.meta);
  const memo = viewerBodies.get(page.posts);
  if (memo?.meta === meta) return memo.body;
  const body = viewerBody(page);
  if (body && Object.isFrozen(page.posts)) viewerBodies.set(page.posts, { meta, body });
  return body;
}

// (Typed as the page: Elysia sends a returned Response as it is, but its route types cannot say "page or Response".)
function answer(page: FeedPage, viewer: Viewer): FeedPage {
  if (viewer) {
    const body = memoViewerBody(page);
    // Anything unexpected (a post not from the cache): the ordinary path, validated and serialized by Elysia.
    return body === undefined ? page : (new Response(body, { headers: { "content-type": "application/json;charset=utf-8" } }) as unknown as FeedPage);
  }
  let body = publicBodies.get(page.posts);
  if (body === undefined) {
    if (!checkFeed.Check(page))
      throw new Error(
        `feed page does not match its response schema: ${[...checkFeed.Errors(page)]
          .slice(0, 3)
          .map((e) => e.path)
          .join(", ")}`,
      );
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
  // A signed-in viewer's connections then get post_liked / post_unliked for the posts on the page (src/realtime).
  const reply = (page: FeedPage, viewer: Viewer) => {
    if (viewer && page.posts.length)
      void notePostsSeen(
        deps,
        viewer.user.id,
        page.posts.map((p) => p.id),
      ).catch(() => undefined);
    return answer(page, viewer);
  };
  const global = async ({ query, viewer }: { query: Query; viewer: Viewer }) =>
    reply(await globalFeed(deps, viewer?.user.id ?? null, parsePage(query)), viewer);
  const trending = async ({ query, viewer }: { query: Query; viewer: Viewer }) =>
    reply(await rankedFeed(deps, viewer?.user.id ?? null, parseRankedPage(query), { excludeFollowed: false }), viewer);
  const discovery = async ({ query, viewer }: { query: Query; viewer: Viewer }) =>
    reply(await rankedFeed(deps, viewer?.user.id ?? null, parseRankedPage(query), { excludeFollowed: true }), viewer);

  return new Elysia({ name: "feed-routes", detail: { tags: ["feeds"] } })
    .use(authGuard(deps))
    .get("/feed/global", global, { ...publicFeed, detail: { summary: "Every ready post, newest first" } })
    .get("/feed/global/enriched", global, { ...publicFeed, detail: { summary: "Every ready post, newest first (plugin alias of /feed/global)" } })
    .get("/feed/latest", global, { ...publicFeed, detail: { summary: "Every ready post, newest first (plugin alias of /feed/global)" } })
    .get("/feed/timeline", async ({ query, auth }) => reply(await timelineFeed(deps, auth.user.id, parsePage(query)), auth), {
      ...signedInFeed,
      detail: { summary: "Posts of the people you follow and your own, newest first" },
    })
    .get("/feed/unified", async ({ query, auth }) => reply(await unifiedFeed(deps, auth.user.id, parsePage(query)), auth), {
      ...signedInFeed,
      detail: { summary: "The timeline; the global feed while you follow nobody (meta.source says which) (plugin)" },
    })
    .get("/feed/trending", trending, {
      ...publicFeed,
      detail: { summary: "Ranked by reactions and plays with time decay over the last 7 days (plugin)" },
    })
    .get("/feed/popular", trending, {
      ...publicFeed,
      detail: { summary: "Ranked by reactions and plays with time decay over the last 7 days (plugin alias of /feed/trending)" },
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

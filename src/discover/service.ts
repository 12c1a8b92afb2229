// Discover (README "Discover"; docs/plugin-contract.md "Discover"): genres with their loop counts, the loops of a
// genre, loops similar to one, producers you may like, featured and trending producers, producers like one. Loops
// come from discover's index (src/discover/sql.ts) and are then read and enriched like any feed's, so a loop here is
// the same post object as everywhere (src/posts/enrich.ts). Pages as anyone sees them are kept in
// deps.caches.discoverPages (an exact read cache) and personalised per viewer; producers hidden from the viewer
// (blocked either way, muted) are left out in SQL, so pages stay full and offsets exact.
import { inArray } from "drizzle-orm";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { queryRows } from "../db/prepared.ts";
import { errors } from "../http/errors.ts";
import { personalize, publicPosts } from "../posts/enrich.ts";
import type { PostT } from "../posts/models.ts";
import { findVisiblePost } from "../posts/service.ts";
import { FEED_SQL, toPostWithAuthor, type RawFeedRow } from "../social/feed-queries.ts";
import { rankedFeed } from "../social/feeds.ts";
import { blockedBetween } from "../social/block-states.ts";
import { findUserByIdOrUsername } from "../users/profile.ts";
import { toPublicUser, viewerExtras, type UserRow } from "../users/service.ts";
import type { PublicUserT } from "../users/models.ts";
import { DISCOVER_SQL } from "./sql.ts";

/** Discover pages kept in deps.caches.discoverPages (exact: reused only while the database is unchanged). */
export const DISCOVER_CACHE_PAGES = 256;

/** "Active recently" (README "Discover"): seen online or published a loop within this many days. */
export const ACTIVE_DAYS = 30;

export type DiscoverMeta = { count: number; has_more: boolean; next_cursor: string };
export type LoopList = { posts: PostT[]; meta: DiscoverMeta };
export type GenreLoops = LoopList & { users: PublicUserT[] };
export type ProducerList = { users: PublicUserT[]; meta: DiscoverMeta; source: "following" | "popular" };
export type GenreCount = { genre: string; post_count: number };

/** A page: `offset` (the plugin) or `after` (from the cursor: a doc_id for a genre's loops, an offset elsewhere). */
export type DiscoverPage = { limit: number; offset: number; after?: number };

const meta = (count: number, hasMore: boolean, next: string): DiscoverMeta => ({ count, has_more: hasMore, next_cursor: hasMore ? next : "" });

export function encodeDiscoverCursor(kind: string, n: number): string {
  return Buffer.from(JSON.stringify([kind, n])).toString("base64url");
}

function decodeDiscoverCursor(kind: string, s: string): number {
  try {
    const [k, n] = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    if (k === kind && Number.isSafeInteger(n) && n >= 0) return n;
  } catch {
    /* fall through */
  }
  throw errors.validation({ cursor: "Not a cursor this server gave out" });
}

/** A whole number from the query, clamped to [min, max]; absent or "" is the default, anything else a 400. */
export function clampedNumber(field: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^-?\d{1,12}$/.test(raw.trim())) throw errors.validation({ [field]: "Must be a whole number" });
  return Math.min(max, Math.max(min, Number(raw.trim())));
}

/**
 * The page a discover list asks for: `limit` 1–100 (default 20; an absurd one is clamped, not refused), `offset`
 * 0–1,000,000 (clamped), or the list's own `cursor` (not both).
 */
export function discoverPage(kind: string, q: { limit?: string; offset?: string; cursor?: string }, defaultLimit = 20): DiscoverPage {
  const limit = clampedNumber("limit", q.limit, defaultLimit, 1, 100);
  const offset = clampedNumber("offset", q.offset, 0, 0, 1_000_000);
  if (q.cursor && offset) throw errors.validation({ cursor: "Use either cursor or offset, not both" });
  return { limit, offset, after: q.cursor ? decodeDiscoverCursor(kind, q.cursor) : undefined };
}

const since = (deps: Deps) => deps.clock.now() - ACTIVE_DAYS * 86_400_000;

// ── Genres ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Genres of ready loops with how many loops carry each, most used first (at most `limit`). */
export async function genresWithCounts(deps: Deps, limit: number): Promise<GenreCount[]> {
  return (await deps.caches.discoverPages.get(`genres:${limit}`, async () =>
    (await queryRows<GenreCount>(deps.database, DISCOVER_SQL.genres, [limit])).map((r) => ({ genre: r.genre, post_count: Number(r.post_count) })),
  )) as GenreCount[];
}

// ── Loops ──────────────────────────────────────────────────────────────────────────────────────────────────────

/** A page of loops as anyone sees them (blocks of the viewer left out when one is given), with what its meta needs. */
/** `authors`: the producers of a genre page's loops, as rows and as anyone sees them (no viewer, no presence). */
type LoopPage = { posts: PostT[]; hasMore: boolean; next: number; authors?: { rows: UserRow[]; public: PublicUserT[] } };

/** The posts of these ids, in this order, as anyone sees them; a loop gone since the index was read is left out. */
async function postsInOrder(deps: Deps, ids: string[]): Promise<PostT[]> {
  if (!ids.length) return [];
  const rows = (await queryRows<RawFeedRow>(deps.database, FEED_SQL.byIds, [JSON.stringify(ids)])).map(toPostWithAuthor);
  const byId = new Map(rows.map((r) => [r.post.id, r]));
  return publicPosts(
    deps,
    ids.flatMap((id) => byId.get(id) ?? []),
  );
}

/** A page from the index's rows (one more than the limit, which tells whether there is more), its loops as anyone sees them. */
async function pageOfRows<R extends { post_id: string }>(deps: Deps, rows: R[], limit: number, next: (shown: R[]) => number): Promise<LoopPage> {
  const hasMore = rows.length > limit;
  const shown = hasMore ? rows.slice(0, limit) : rows;
  return {
    posts: await postsInOrder(
      deps,
      shown.map((r) => r.post_id),
    ),
    hasMore,
    next: next(shown),
  };
}

/**
 * The viewer's copy of a shared page: personalised; when a producer on it is hidden from the viewer, the exact page
 * without them instead (uncached), so a page stays full and offsets skip nothing.
 */
async function forViewer(deps: Deps, key: string, load: (viewer: string) => Promise<LoopPage>, viewerId: string | null) {
  let page = (await deps.caches.discoverPages.get(key, () => load(""))) as LoopPage;
  let posts = await personalize(deps, page.posts, viewerId, { feed: true });
  if (viewerId && posts.length < page.posts.length) {
    page = await load(viewerId);
    posts = await personalize(deps, page.posts, viewerId, { feed: true });
  }
  return { page, posts };
}

/** The loops of one genre (any case), newest published first, with the producers of the page. Unknown genre: empty. */
export async function loopsByGenre(deps: Deps, genre: string, viewerId: string | null, page: DiscoverPage): Promise<GenreLoops> {
  const load = async (viewer: string): Promise<LoopPage> => {
    const rows = await queryRows<{ doc_id: number; post_id: string }>(deps.database, DISCOVER_SQL.loopsByGenre, [
      genre,
      page.after ?? Number.MAX_SAFE_INTEGER,
      viewer,
      page.limit + 1,
      page.offset,
    ]);
    const found = await pageOfRows(deps, rows, page.limit, (shown) => Number(shown.at(-1)?.doc_id ?? 0));
    const authors = await userRows(deps, [...new Set(found.posts.map((p) => p.user_id))]);
    return { ...found, authors: { rows: authors, public: await publicUsers(deps, authors, null, null) } };
  };
  const key = `genre:${JSON.stringify([genre.trim().toLowerCase(), page.after ?? null, page.limit, page.offset])}`;
  const { page: shared, posts } = await forViewer(deps, key, load, viewerId);
  return {
    posts,
    users: viewerId ? await publicUsers(deps, shared.authors!.rows, new Set(posts.map((p) => p.user_id)), viewerId) : shared.authors!.public,
    meta: meta(posts.length, shared.hasMore, encodeDiscoverCursor("g", shared.next)),
  };
}

/**
 * Loops similar to one (README "Discover"): a shared genre, the same key or its relative major/minor, BPM within 3
 * (or half or double time, the 3 scaled); closest BPM first, then newest. 404 post_not_found for a loop the viewer
 * may not see. A loop without genres, key or BPM has no similar loops (an empty list).
 */
export async function similarLoops(deps: Deps, postId: string, viewerId: string | null, page: DiscoverPage): Promise<LoopList> {
  type Source = { genre: string; key_class: number | null; bpm: number | null; blocked: number };
  const source = await queryRows<Source>(deps.database, DISCOVER_SQL.source, [postId, viewerId ?? ""]);
  const first = source[0];
  // A loop in the index is ready and listed: it is hidden only by a block. One that is not (no genre, or not ready,
  // or unknown) is looked up to tell a 404 from a loop without similar loops.
  const visible = first ? !Number(first.blocked) : (await findVisiblePost(deps, postId, viewerId))?.post.status === "ready";
  if (!visible) throw errors.notFound("post_not_found", "No such post");
  const offset = page.after ?? page.offset;
  const load = async (viewer: string): Promise<LoopPage> => {
    if (!first || first.key_class === null || !first.bpm) return { posts: [], hasMore: false, next: 0 };
    const one = source.length === 1;
    const rows = await queryRows<{ post_id: string }>(deps.database, one ? DISCOVER_SQL.similarOneGenre : DISCOVER_SQL.similar, [
      one ? first.genre : JSON.stringify(source.map((s) => s.genre)),
      first.key_class,
      first.bpm,
      postId,
      viewer,
      page.limit + 1,
      offset,
    ]);
    return pageOfRows(deps, rows, page.limit, (shown) => offset + shown.length);
  };
  const { page: shared, posts } = await forViewer(deps, `similar:${JSON.stringify([postId, page.limit, offset])}`, load, viewerId);
  return { posts, meta: meta(posts.length, shared.hasMore, encodeDiscoverCursor("s", shared.next)) };
}

// ── Producers ──────────────────────────────────────────────────────────────────────────────────────────────────

/** The rows of these users, in this order (an unknown id is left out). */
async function userRows(deps: Deps, ids: string[]): Promise<UserRow[]> {
  if (!ids.length) return [];
  const rows: UserRow[] = await deps.database.db.select().from(users).where(inArray(users.id, ids));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** These users as the viewer sees them (follow states, presence), those of `only` when given. */
async function publicUsers(deps: Deps, rows: UserRow[], only: Set<string> | null, viewerId: string | null): Promise<PublicUserT[]> {
  const shown = only ? rows.filter((u) => only.has(u.id)) : rows;
  const extras = await viewerExtras(
    deps,
    viewerId,
    shown.map((u) => u.id),
  );
  return shown.map((u) => toPublicUser(deps, u, extras.get(u.id)));
}

/** Public users of these ids, in this order, personalised; an unknown id is left out. */
async function usersInOrder(deps: Deps, ids: string[], viewerId: string | null): Promise<PublicUserT[]> {
  return publicUsers(deps, await userRows(deps, ids), null, viewerId);
}

/** Ids from a producers query, cached per viewer while the database is unchanged. */
function idsOf(deps: Deps, key: string, text: string, params: (string | number)[]): Promise<string[]> {
  return deps.caches.discoverPages.get(key, async () => (await queryRows<{ id: string }>(deps.database, text, params)).map((r) => r.id)) as Promise<string[]>;
}

/**
 * Producers you may like (README "Discover"): followed by the people you follow, ranked by how many of them do;
 * while you follow nobody (and for anyone not signed in), active popular producers instead (`source` says which).
 * Never you, anyone you follow, anyone blocked either way or muted, suspended or pending accounts; active recently.
 */
export async function recommendedProducers(deps: Deps, viewerId: string | null, page: DiscoverPage): Promise<ProducerList> {
  const offset = page.after ?? page.offset;
  const viewer = viewerId ?? "";
  // The whole list as this viewer sees it is kept while the database is unchanged: it holds nobody the viewer follows,
  // so no presence (shown only to followers) and nothing else that changes without a write.
  return deps.caches.discoverPages.get(`producers:${viewer}:${page.limit}:${offset}`, async () => {
    const followsAnyone = viewerId ? (await queryRows(deps.database, FEED_SQL.followsAnyone, [viewerId])).length > 0 : false;
    const text = followsAnyone ? DISCOVER_SQL.friendsOfFriends : DISCOVER_SQL.popular;
    const ids = (await queryRows<{ id: string }>(deps.database, text, [viewer, since(deps), page.limit + 1, offset])).map((r) => r.id);
    const hasMore = ids.length > page.limit;
    const shown = hasMore ? ids.slice(0, page.limit) : ids;
    const list = await usersInOrder(deps, shown, viewerId);
    return { users: list, meta: meta(list.length, hasMore, encodeDiscoverCursor("r", offset + shown.length)), source: followsAnyone ? "following" : "popular" };
  }) as Promise<ProducerList>;
}

/**
 * Featured producers: the most followed producers active recently (not you, nobody hidden from you, nobody you
 * follow), kept per viewer like producers you may like (and for the same reason).
 */
export async function featuredProducers(deps: Deps, viewerId: string | null, limit: number): Promise<PublicUserT[]> {
  const viewer = viewerId ?? "";
  return deps.caches.discoverPages.get(`featured:${viewer}:${limit}`, async () => {
    const ids = (await queryRows<{ id: string }>(deps.database, DISCOVER_SQL.popular, [viewer, since(deps), limit, 0])).map((r) => r.id);
    return usersInOrder(deps, ids, viewerId);
  }) as Promise<PublicUserT[]>;
}

/** Trending producers: the producers of the trending loops (the trending feed's ranking), in its order, not you. */
export async function trendingProducers(deps: Deps, viewerId: string | null, limit: number): Promise<PublicUserT[]> {
  const ranked = await rankedFeed(deps, viewerId, { limit: 100, offset: 0 }, { excludeFollowed: false });
  const ids = [...new Set(ranked.posts.map((p) => p.user_id))].filter((id) => id !== viewerId).slice(0, limit);
  return usersInOrder(deps, ids, viewerId);
}

/**
 * Producers like one producer: those most followed by its newest 200 followers. 404 user_not_found for an unknown,
 * suspended or pending account, or one blocked either way.
 */
export async function similarProducers(deps: Deps, idOrUsername: string, viewerId: string | null, limit: number): Promise<PublicUserT[]> {
  const u: UserRow | undefined = await findUserByIdOrUsername(deps, idOrUsername);
  if (!u || (viewerId && (await blockedBetween(deps.database.db, viewerId, u.id)))) throw errors.notFound("user_not_found", "No such user");
  const viewer = viewerId ?? "";
  const ids = await idsOf(deps, `cofollowed:${u.id}:${viewer}:${limit}`, DISCOVER_SQL.coFollowed, [u.id, viewer, limit]);
  return usersInOrder(deps, ids, viewerId);
}

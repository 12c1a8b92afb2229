// The feeds (docs/plugin-contract.md "Feeds"): global, timeline (and the plugin's unified), trending, discovery/for-you.
// Fan-out on read: a page is read from the posts table through its indexes, never precomputed per follower.
// Every page is one feed statement (two at most for a sparse timeline) plus the enrichment (src/posts/enrich.ts:
// reaction counts, and the viewer's own fields), whatever its size; only ready posts appear. On bun:sqlite a page
// as anyone sees it is reused while the database is unchanged (db/read-cache.ts), so a repeated page costs one tiny
// version check, and the viewer's own fields come from the same kind of cache.
//
// Pagination. Chronological feeds take `offset` (the plugin) or `cursor`: a keyset on (created_at, id) of the
// last post shown, so posts published between two pages never shift the next page (no duplicates, no gaps).
// Ranked feeds (trending, discovery) are ordered by a score that decays with time; their cursor carries the
// ranking's reference time t0 and the (score, id) of the last post shown, and the next page continues the
// ranking *as of t0*: posts published after t0 are not in it, so new posts never shift it either. Engagement
// that arrives between two pages can move a post across the page boundary (seen twice, or not at all) — the
// price of a live ranking; `offset` on a ranked feed slices the current ranking.
import { errors } from "../http/errors.ts";
import { encodeCursor, type Cursor, type Page } from "../http/pagination.ts";
import { queryRows } from "../db/prepared.ts";
import type { Deps } from "../deps.ts";
import { personalize, publicPosts, type PostWithAuthor } from "../posts/enrich.ts";
import type { PostT } from "../posts/models.ts";
import type { Candidate, Ranked, TrendingSnapshot as Snapshot } from "../caches.ts";
import { Lru } from "../lib/lru.ts";
import { FEED_SQL, TIMELINE_SCAN_BUDGET, TOP, toPostWithAuthor, toRepostEntry, type RawFeedRow, type RawRepostRow } from "./feed-queries.ts";

export type FeedSource = "timeline" | "global";
export type FeedMeta = { count: number; has_more: boolean; next_cursor: string; source?: FeedSource };
export type FeedPage = { posts: PostT[]; meta: FeedMeta };

/** Feed pages as anyone sees them, reused while the database is unchanged (deps.caches.feedPages): ~25 KB each at 20 posts. */
export const FEED_CACHE_PAGES = 256;
const cachedPage = <T>(deps: Deps, key: string, build: () => Promise<T>) => deps.caches.feedPages.get(key, build) as Promise<T>;

async function feedRows(deps: Deps, text: string, params: (string | number)[]): Promise<PostWithAuthor[]> {
  return (await queryRows<RawFeedRow>(deps.database, text, params)).map(toPostWithAuthor);
}

/** A page as anyone sees it (per-viewer fields neutral): what the page cache keeps. */
type PublicPage = { posts: PostT[]; meta: FeedMeta };

/**
 * The viewer's copy of a page: their own fields and the authors' presence added to fresh objects, without the loops
 * of authors the viewer blocks, is blocked by or mutes (README "Blocking and muting"). The page stays the shared
 * cached one and is filtered per viewer (posts/enrich.ts personalize), so a block or mute costs no page of its own;
 * `count` is what is shown, while has_more and next_cursor are the page's, so paging on skips nothing.
 */
async function forViewer(deps: Deps, page: PublicPage, viewerId: string | null, source?: FeedSource): Promise<FeedPage> {
  const meta: FeedMeta = { ...page.meta };
  if (source) meta.source = source;
  const posts = await personalize(deps, page.posts, viewerId, { feed: true });
  meta.count = posts.length;
  return { posts, meta };
}

/** An entry's place in a chronological feed: its post's time, or for a repost entry the repost's. */
const placeOf = (r: PostWithAuthor): Cursor => ({ createdAt: r.repost?.at ?? r.post.createdAt, id: r.post.id });

/** Cuts the extra row fetched to learn has_more, fills the page's counts, and points the cursor at its last entry. */
async function chronologicalPage(deps: Deps, rows: PostWithAuthor[], page: Page): Promise<PublicPage> {
  const has_more = rows.length > page.limit;
  const items = has_more ? rows.slice(0, page.limit) : rows;
  const last = items.at(-1);
  const next_cursor = has_more && last ? encodeCursor(placeOf(last)) : "";
  return { posts: await publicPosts(deps, items), meta: { count: items.length, has_more, next_cursor } };
}

const keyset = (page: Page): Cursor => page.before ?? TOP;
const pageKey = (page: Page) => {
  const c = keyset(page);
  return `${page.limit}:${page.offset}:${c.createdAt}:${c.id}`;
};

/** Every ready post, newest first. */
export async function globalFeed(deps: Deps, viewerId: string | null, page: Page, source?: FeedSource): Promise<FeedPage> {
  const shared = await cachedPage(deps, `global:${pageKey(page)}`, async () => {
    const c = keyset(page);
    return chronologicalPage(deps, await feedRows(deps, FEED_SQL.global, [c.createdAt, c.id, page.limit + 1, page.offset]), page);
  });
  return forViewer(deps, shared, viewerId, source);
}

/** The viewer's own and followees' ready posts below `c`, newest first: `want` of them after skipping `skip`. */
async function followedPosts(deps: Deps, viewerId: string, c: Cursor, want: number, skip: number): Promise<PostWithAuthor[]> {
  // Dense plan first; it is exact whenever it fills the page. Otherwise the followees are few or quiet, and the
  // per-followee plan reads just their posts.
  const rows = await feedRows(deps, FEED_SQL.timelineRecent, [c.createdAt, c.id, TIMELINE_SCAN_BUDGET, viewerId, viewerId, want, skip]);
  return rows.length < want ? feedRows(deps, FEED_SQL.timelineFollowed, [viewerId, viewerId, c.createdAt, c.id, want, skip]) : rows;
}

const newerFirst = (a: PostWithAuthor, b: PostWithAuthor) => {
  const [x, y] = [placeOf(a), placeOf(b)];
  return y.createdAt - x.createdAt || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0);
};

/**
 * Ready posts of the people the viewer follows and the viewer's own, and the loops those people reposted (README
 * "Reposts"), newest first. Two streams on the same keyset, (time, post id), where a repost entry's time is the
 * repost's: each loop is in at most one of them, once (FEED_SQL.timelineReposts), so the merged order is total and
 * the cursor of the last entry shown continues both without a repeat or a gap. Without reposts below the cursor
 * (the usual case) the page is the posts stream alone, read exactly as before; with some, both streams are read
 * from the cursor to offset + limit + 1 entries and merged.
 */
export async function timelineFeed(deps: Deps, viewerId: string, page: Page): Promise<FeedPage> {
  const shared = await cachedPage(deps, `timeline:${viewerId}:${pageKey(page)}`, async () => {
    const c = keyset(page);
    const want = page.limit + 1;
    // A community with no repost below the cursor (a new one, or paging past the oldest repost) pays one index seek.
    const anyReposts = (await queryRows(deps.database, FEED_SQL.anyRepostBefore, [c.createdAt, c.id])).length > 0;
    const reposted = !anyReposts
      ? []
      : (await queryRows<RawRepostRow>(deps.database, FEED_SQL.timelineReposts, [c.createdAt, c.id, ...Array(6).fill(viewerId), want + page.offset])).map(
          toRepostEntry,
        );
    if (!reposted.length) return chronologicalPage(deps, await followedPosts(deps, viewerId, c, want, page.offset), page);
    const merged = [...(await followedPosts(deps, viewerId, c, want + page.offset, 0)), ...reposted].sort(newerFirst);
    return chronologicalPage(deps, merged.slice(page.offset, page.offset + want), page);
  });
  return forViewer(deps, shared, viewerId, "timeline");
}

/** The plugin's "Following" tab: the timeline, or the global feed while the viewer follows nobody (meta.source says which). */
export async function unifiedFeed(deps: Deps, viewerId: string, page: Page): Promise<FeedPage> {
  const followsSomeone = (await queryRows(deps.database, FEED_SQL.followsAnyone, [viewerId])).length > 0;
  return followsSomeone ? timelineFeed(deps, viewerId, page) : globalFeed(deps, viewerId, page, "global");
}

// ── Ranked feeds ──────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Trending score, computed at a reference time t0 for each candidate post:
 *
 *     score = (like_count + 0.5 · play_count + 1) / (age_hours + 2) ^ 1.5
 *
 * like_count counts the post's reactions (every emoji), play_count its counted plays (one per listener per 30
 * minutes); both are exact counters on the post row, so no aggregation over reactions or plays is needed. The
 * "+ 1" lets a brand-new post with no engagement rank by freshness; "+ 2" hours keeps the first hours from
 * dominating; gravity 1.5 halves a score in roughly (age + 2) · 0.59 hours. Candidates are the ready posts of the
 * last 7 days (the newest 5,000 at most), or the newest 200 whatever their age when the window holds fewer, so a
 * quiet community still has a trending tab. Ties break on id (newest first).
 *
 * Cost: one range over posts_feed_author_idx (status, created_at) reading ≤ 5,000 rows' counters, plus a sort, at most
 * once every TRENDING.cacheMs per process; a page then costs one by-id statement and the enrichment.
 */
export const TRENDING = {
  windowMs: 7 * 86_400_000,
  maxCandidates: 5000,
  minCandidates: 200,
  playWeight: 0.5,
  ageOffsetHours: 2,
  gravity: 1.5,
  /** How long one computed ranking is served (a ranking is at most this old). */
  cacheMs: 5000,
} as const;

export function trendingScore(likes: number, plays: number, ageMs: number): number {
  const hours = Math.max(0, ageMs) / 3_600_000;
  return (likes + TRENDING.playWeight * plays + 1) / (hours + TRENDING.ageOffsetHours) ** TRENDING.gravity;
}

export type RankedCursor = { t0: number; score: number; id: string };
export type RankedPage = { limit: number; offset: number; after?: RankedCursor };

async function loadCandidates(deps: Deps, now: number): Promise<Candidate[]> {
  const window = await queryRows<Candidate>(deps.database, FEED_SQL.trendingWindow, [now - TRENDING.windowMs, now, TRENDING.maxCandidates]);
  if (window.length >= TRENDING.minCandidates) return window;
  return queryRows<Candidate>(deps.database, FEED_SQL.trendingNewest, [now, TRENDING.minCandidates]);
}

/** The current candidates (deps.caches.trending), recomputed at most every TRENDING.cacheMs (one load at a time). */
async function trendingSnapshot(deps: Deps): Promise<Snapshot> {
  const slot = deps.caches.trending;
  const now = deps.clock.now();
  const s = slot.current;
  if (s && now >= s.at && now - s.at < TRENDING.cacheMs) return s;
  if (!slot.pending) {
    const holder = slot;
    holder.pending = loadCandidates(deps, now)
      .then((candidates) => (holder.current = { at: now, candidates, rankings: new Lru(RANKINGS_PER_SNAPSHOT) }))
      .finally(() => (holder.pending = undefined));
  }
  return slot.pending!;
}

const rankedBefore = (a: { score: number; id: string }, b: { score: number; id: string }) => a.score > b.score || (a.score === b.score && a.id > b.id);

/** Rankings kept per snapshot: a reader paging on, others starting at the current t0. */
const RANKINGS_PER_SNAPSHOT = 4;

/** The candidates ranked as of t0 (posts published after t0 are left out). A few rankings are kept per snapshot. */
function rankingAt(s: Snapshot, t0: number): Ranked[] {
  let r = s.rankings.get(t0);
  if (r) return r;
  r = [];
  for (const c of s.candidates) {
    if (c.created_at > t0) continue;
    r.push({ id: c.id, userId: c.user_id, score: trendingScore(Number(c.like_count), Number(c.play_count), t0 - c.created_at) });
  }
  r.sort((a, b) => (rankedBefore(a, b) ? -1 : rankedBefore(b, a) ? 1 : 0));
  s.rankings.set(t0, r);
  return r;
}

export function encodeRankedCursor(c: RankedCursor): string {
  return Buffer.from(JSON.stringify(["r", c.t0, c.score, c.id])).toString("base64url");
}

export function decodeRankedCursor(s: string): RankedCursor {
  try {
    const [tag, t0, score, id] = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    if (
      tag === "r" &&
      Number.isSafeInteger(t0) &&
      t0 >= 0 &&
      typeof score === "number" &&
      Number.isFinite(score) &&
      score >= 0 &&
      typeof id === "string" &&
      id.length <= 64
    ) {
      return { t0, score, id };
    }
  } catch {
    /* fall through */
  }
  throw errors.validation({ cursor: "Not a cursor this server gave out" });
}

/**
 * Trending (excludeFollowed false) and discovery/for-you (true: leaves out the viewer and everyone the viewer
 * follows). Without a viewer both are the plain trending ranking.
 */
export async function rankedFeed(deps: Deps, viewerId: string | null, page: RankedPage, opts: { excludeFollowed: boolean }): Promise<FeedPage> {
  const snapshot = await trendingSnapshot(deps);
  const t0 = page.after?.t0 ?? snapshot.at;
  const excluding = opts.excludeFollowed && viewerId ? viewerId : null;
  const key = `ranked:${excluding ?? ""}:${t0}:${page.after ? `${page.after.score}:${page.after.id}` : ""}:${page.offset}:${page.limit}`;
  const shared = await cachedPage(deps, key, async (): Promise<PublicPage> => {
    const ranking = rankingAt(snapshot, t0);
    let excluded: Set<string> | undefined;
    if (excluding) {
      excluded = new Set((await queryRows<{ id: string }>(deps.database, FEED_SQL.followees, [excluding])).map((r) => r.id));
      excluded.add(excluding);
    }

    // First ranked entry after the cursor (binary search: the ranking is sorted).
    let start = 0;
    if (page.after) {
      const after = page.after;
      let lo = 0;
      let hi = ranking.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const r = ranking[mid]!;
        if (rankedBefore(r, after) || (r.score === after.score && r.id === after.id)) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const picked: Ranked[] = [];
    let skip = page.offset;
    for (let i = start; i < ranking.length && picked.length <= page.limit; i++) {
      const r = ranking[i]!;
      if (excluded?.has(r.userId)) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      picked.push(r);
    }
    const has_more = picked.length > page.limit;
    const shown = has_more ? picked.slice(0, page.limit) : picked;

    // The page's rows; a post deleted (or unpublished) since the ranking was computed is simply left out.
    const byId = new Map<string, PostWithAuthor>();
    if (shown.length) for (const row of await feedRows(deps, FEED_SQL.byIds, [JSON.stringify(shown.map((r) => r.id))])) byId.set(row.post.id, row);
    const items = shown.flatMap((r) => byId.get(r.id) ?? []);
    const last = shown.at(-1);
    return {
      posts: await publicPosts(deps, items),
      meta: { count: items.length, has_more, next_cursor: has_more && last ? encodeRankedCursor({ t0, score: last.score, id: last.id }) : "" },
    };
  });
  return forViewer(deps, shared, viewerId);
}

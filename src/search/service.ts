// Search (docs/plugin-contract.md "Search"; docs/architecture.md "Search"): loops by text and filters, producers by
// name, autocomplete of usernames and genres, suggestions. Reads the index the triggers keep (src/search/sql.ts),
// then the page's posts through the feeds' statements, so a found loop is the same post object as in any feed, with
// the viewer's reaction, follow and presence fields (src/posts/enrich.ts). Producers blocked either way are left out
// in SQL, so pages are full and paging by offset or cursor skips and repeats nothing.
import { inArray } from "drizzle-orm";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { queryRows } from "../db/prepared.ts";
import { errors } from "../http/errors.ts";
import { parsePage } from "../http/pagination.ts";
import { personalize, publicPosts } from "../posts/enrich.ts";
import type { PostT } from "../posts/models.ts";
import { FEED_SQL, toPostWithAuthor, type RawFeedRow } from "../social/feed-queries.ts";
import { blockedAmong } from "../social/block-states.ts";
import { toPublicUser, viewerExtras } from "../users/service.ts";
import type { PublicUserT } from "../users/models.ts";
import { ftsExpression, LOOP_PREFIX_MAX, parsePrefix, type LoopSearch } from "./query.ts";
import { SEARCH_SQL } from "./sql.ts";

export type SearchMeta = { count: number; has_more: boolean; next_cursor: string };
/** `total_count` is what the plugin reads to decide whether to load more: offset + count, plus one while there is more. */
export type PostSearchPage = { posts: PostT[]; meta: SearchMeta; total_count: number };
export type UserSearchPage = { users: PublicUserT[]; meta: SearchMeta; total_count: number };

/** A search page: `offset` (the plugin) or `after` (the cursor's doc_id for loops, its offset for producers). */
export type SearchPage = { limit: number; offset: number; after?: number };

export function encodeSearchCursor(kind: "p" | "u", n: number): string {
  return Buffer.from(JSON.stringify([kind, n])).toString("base64url");
}

export function decodeSearchCursor(kind: "p" | "u", s: string): number {
  try {
    const [k, n] = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
    if (k === kind && Number.isSafeInteger(n) && n >= 0) return n;
  } catch {
    /* fall through */
  }
  throw errors.validation({ cursor: "Not a cursor this server gave out" });
}

/** limit and offset as the feeds take them (parsePage), or the search's own cursor (not both). */
export function searchPage(kind: "p" | "u", q: { limit?: string; offset?: string; cursor?: string }): SearchPage {
  const { limit, offset } = parsePage({ limit: q.limit, offset: q.offset });
  if (q.cursor && offset) throw errors.validation({ cursor: "Use either cursor or offset, not both" });
  return { limit, offset, after: q.cursor ? decodeSearchCursor(kind, q.cursor) : undefined };
}

const meta = (count: number, hasMore: boolean, next: string): SearchMeta => ({ count, has_more: hasMore, next_cursor: hasMore ? next : "" });

/** Search pages kept in deps.caches.searchPages (exact: reused only while the database is unchanged). */
export const SEARCH_CACHE_PAGES = 256;

/** A page of loops as anyone sees it (viewer fields neutral), with what its meta is made from. */
type LoopPage = { posts: PostT[]; found: number; hasMore: boolean; lastDoc: number };

/** The page's rows from the index (blocks of `viewerId` left out; "" for none), then its posts as anyone sees them. */
async function loopPage(deps: Deps, search: LoopSearch, viewerId: string, page: SearchPage): Promise<LoopPage> {
  const f = search.filters;
  const text = search.match ? SEARCH_SQL.postsByText : SEARCH_SQL.postsByFilters;
  const rows = await queryRows<{ doc_id: number; post_id: string }>(deps.database, text, [
    search.match,
    page.after ?? Number.MAX_SAFE_INTEGER,
    f.bpmMin,
    f.bpmMax,
    f.keys,
    f.genre,
    f.daw,
    f.durationMin,
    f.durationMax,
    viewerId,
    page.limit + 1,
    page.offset,
  ]);
  const hasMore = rows.length > page.limit;
  const shown = hasMore ? rows.slice(0, page.limit) : rows;
  const ids = shown.map((r) => r.post_id);
  const found = ids.length ? (await queryRows<RawFeedRow>(deps.database, FEED_SQL.byIds, [JSON.stringify(ids)])).map(toPostWithAuthor) : [];
  const byId = new Map(found.map((r) => [r.post.id, r]));
  const posts = await publicPosts(
    deps,
    ids.flatMap((id) => byId.get(id) ?? []),
  );
  return { posts, found: shown.length, hasMore, lastDoc: Number(shown.at(-1)?.doc_id ?? 0) };
}

/**
 * Loops for a parsed search (query.ts), newest published first. The page as anyone sees it is kept in the search
 * cache and personalised per viewer, as the feeds do (posts/enrich.ts); when a producer on it is blocked either way
 * by the viewer, the viewer gets the exact page without them instead (uncached), so a page stays full and paging
 * by offset or cursor skips nothing.
 */
export async function searchPosts(deps: Deps, search: LoopSearch, viewerId: string | null, page: SearchPage): Promise<PostSearchPage> {
  // Text with nothing searchable in it finds nothing.
  if (search.hasText && !search.match) return { posts: [], meta: meta(0, false, ""), total_count: page.offset };
  const key = `loops:${JSON.stringify([search.match, search.filters, page.after ?? null, page.limit, page.offset])}`;
  let shared = (await deps.caches.searchPages.get(key, () => loopPage(deps, search, "", page))) as LoopPage;
  let posts = await personalize(deps, shared.posts, viewerId);
  if (viewerId && posts.length < shared.posts.length) {
    shared = await loopPage(deps, search, viewerId, page);
    posts = await personalize(deps, shared.posts, viewerId);
  }
  return {
    posts,
    meta: meta(posts.length, shared.hasMore, encodeSearchCursor("p", shared.lastDoc)),
    total_count: page.offset + shared.found + (shared.hasMore ? 1 : 0),
  };
}

type UserRow = typeof users.$inferSelect;
/** A page of producers as anyone finds them (blocks of `viewerId` left out; "" for none). */
type ProducerPage = { rows: UserRow[]; found: number; hasMore: boolean };

async function producerPage(deps: Deps, match: string, viewerId: string, limit: number, offset: number): Promise<ProducerPage> {
  const rows = await queryRows<{ id: string }>(deps.database, SEARCH_SQL.users, [match, viewerId, limit + 1, offset]);
  const hasMore = rows.length > limit;
  const ids = (hasMore ? rows.slice(0, limit) : rows).map((r) => r.id);
  const found = ids.length ? await deps.database.db.select().from(users).where(inArray(users.id, ids)) : [];
  const byId = new Map(found.map((r) => [r.id, r]));
  return { rows: ids.flatMap((id) => byId.get(id) ?? []), found: ids.length, hasMore };
}

/**
 * The producers matching an FTS5 expression: the page as anyone finds it from the search cache, or, when the viewer
 * blocks or is blocked by someone on it, the exact page without them (so it stays full).
 */
async function producers(deps: Deps, match: string, viewerId: string | null, limit: number, offset: number): Promise<ProducerPage> {
  const shared = (await deps.caches.searchPages.get(`users:${JSON.stringify([match, limit, offset])}`, () =>
    producerPage(deps, match, "", limit, offset),
  )) as ProducerPage;
  const hidden = await blockedAmong(
    deps,
    viewerId,
    shared.rows.map((u) => u.id),
  );
  return hidden.size && viewerId ? producerPage(deps, match, viewerId, limit, offset) : shared;
}

/** Producers by username or display name (every word must match, the last as a prefix), most followed first. */
export async function searchUsers(deps: Deps, text: string, viewerId: string | null, page: SearchPage): Promise<UserSearchPage> {
  const offset = page.after ?? page.offset;
  const match = ftsExpression(text);
  if (!match) return { users: [], meta: meta(0, false, ""), total_count: offset };
  const found = await producers(deps, match, viewerId, page.limit, offset);
  const extras = await viewerExtras(
    deps,
    viewerId,
    found.rows.map((u) => u.id),
  );
  return {
    users: found.rows.map((u) => toPublicUser(deps, u, extras.get(u.id))),
    meta: meta(found.rows.length, found.hasMore, encodeSearchCursor("u", offset + found.found)),
    total_count: offset + found.found + (found.hasMore ? 1 : 0),
  };
}

/** Usernames for what is being typed: every word as a prefix of the username or the display name. */
export async function autocompleteUsers(deps: Deps, raw: string | undefined, viewerId: string | null, limit: number): Promise<string[]> {
  const match = ftsExpression(parsePrefix(raw), { prefix: "all" });
  if (!match) return [];
  return (await producers(deps, match, viewerId, limit, 0)).rows.map((u) => u.username);
}

/** The highest code point: a prefix's range ends below prefix + this. */
const TOP_CHAR = String.fromCodePoint(0x10ffff);

/** Genres of ready loops starting with the text (any case), most used first. */
export async function autocompleteGenres(deps: Deps, raw: string | undefined, limit: number): Promise<string[]> {
  const prefix = parsePrefix(raw);
  const rows = await queryRows<{ genre: string }>(deps.database, SEARCH_SQL.genres, [prefix, prefix + TOP_CHAR, limit]);
  return rows.map((r) => r.genre);
}

/**
 * What to search for next while typing: matching genres, then usernames, then loop titles (each distinct, any case),
 * at most `limit` in all. Each is a query that finds something.
 */
export async function suggestions(deps: Deps, raw: string | undefined, viewerId: string | null, limit: number): Promise<string[]> {
  const text = parsePrefix(raw);
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (items: string[]) => {
    for (const s of items) {
      const k = s.toLowerCase();
      if (out.length < limit && s && !seen.has(k)) {
        seen.add(k);
        out.push(s);
      }
    }
  };
  add(await autocompleteGenres(deps, text, limit));
  if (out.length < limit) add(await autocompleteUsers(deps, text, viewerId, limit));
  const titleMatch = ftsExpression(text, { prefix: "all", columns: ["title"], maxPrefix: LOOP_PREFIX_MAX });
  if (out.length < limit && titleMatch)
    add((await queryRows<{ title: string }>(deps.database, SEARCH_SQL.titles, [titleMatch, viewerId ?? "", limit * 4])).map((r) => r.title));
  return out;
}

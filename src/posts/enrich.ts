// Per-viewer fields of a page of posts (docs/plugin-contract.md "Posts"): reaction_counts, user_reaction, is_liked,
// is_following, is_own_post, and the author's presence. A page costs the same small number of statements whatever
// its size (docs/architecture.md "Data rules": no N+1): one statement for the reaction counts, and with a viewer one
// more for the viewer's reactions and follows of the page's authors (a UNION ALL). The id
// lists travel as one JSON array parameter read by json_each(), so the SQL text is constant (prepared once) and
// every branch is an index search: reactions_post_idx (post_id, emoji), the reactions primary key (user_id,
// post_id) and the follows primary key (follower_id, followee_id). Author presence is one batched lookup for the
// page's authors (authorPresence, below), never one per post.
import type { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { queryRows } from "../db/prepared.ts";
import type { ViewerState } from "../caches.ts";
import { errorFields } from "../log.ts";
import { toPost, viewerFields, type PostRow, type PostT, type RepostOf } from "./models.ts";
import { seesPresence } from "../social/follow-states.ts";

export type Author = Pick<typeof users.$inferSelect, "id" | "username" | "displayName" | "avatarKey">;
/** A post and its author; on a timeline entry there because someone reposted the loop, that repost (social/feeds.ts). */
export type PostWithAuthor = { post: PostRow; author: Author; repost?: RepostOf };

export type AuthorPresence = Map<string, { is_online: boolean; is_in_studio: boolean }>;

/**
 * Author presence (is_online, is_in_studio) for a whole page at once, from the realtime feature's deps.presence.
 * Most authors are offline at any moment, so the presence store is asked first (in memory, or one Redis read) and
 * the full lookup, which also reads each user's show_activity_status from the database, runs only for the authors
 * who are online: a page of offline authors costs no statement. Presence decorates a feed and never breaks one:
 * if it cannot be read, the authors show as offline.
 */
async function authorPresence(deps: Deps, userIds: string[]): Promise<AuthorPresence | undefined> {
  try {
    const states = await deps.presence.store.read(userIds);
    const online = userIds.filter((id) => states.get(id)?.online);
    return online.length ? await deps.presence.lookup(online) : undefined;
  } catch (err) {
    deps.log.warn("author presence unavailable; showing authors offline", errorFields(err));
    return undefined;
  }
}

export const ENRICH_SQL = {
  /** Per-emoji reaction counts of the page. ?1 = JSON array of post ids. */
  counts: `SELECT post_id AS a, emoji AS b, count(*) AS n FROM reactions WHERE post_id IN (SELECT value FROM json_each(?)) GROUP BY post_id, emoji`,
  /**
   * The viewer's reactions on the page, follows of its authors, and which of the authors are hidden from the viewer
   * (blocks both ways, the viewer's mutes), and which posts the viewer saved and reposted. ?1 viewer, ?2 post ids, then
   * (viewer, author ids) four times, then (viewer, post ids) twice.
   */
  viewer: `SELECT 'r' AS k, post_id AS a, emoji AS b FROM reactions WHERE user_id = ? AND post_id IN (SELECT value FROM json_each(?))
UNION ALL SELECT 'f', followee_id, '' FROM follows WHERE follower_id = ? AND followee_id IN (SELECT value FROM json_each(?))
UNION ALL SELECT 'b', blocked_id, '' FROM blocks WHERE blocker_id = ? AND blocked_id IN (SELECT value FROM json_each(?))
UNION ALL SELECT 'b', blocker_id, '' FROM blocks WHERE blocked_id = ? AND blocker_id IN (SELECT value FROM json_each(?))
UNION ALL SELECT 'm', muted_id, '' FROM mutes WHERE muter_id = ? AND muted_id IN (SELECT value FROM json_each(?))
UNION ALL SELECT 's', post_id, '' FROM saves WHERE user_id = ? AND post_id IN (SELECT value FROM json_each(?))
UNION ALL SELECT 'p', post_id, '' FROM reposts WHERE user_id = ? AND post_id IN (SELECT value FROM json_each(?))`,
} as const;

/**
 * The page as anyone sees it: reaction counts filled, every per-viewer field neutral (no reaction, not following,
 * not own, offline). What the feeds may keep in their page cache; personalize() adds the viewer's part.
 */
export async function publicPosts(deps: Deps, items: PostWithAuthor[]): Promise<PostT[]> {
  if (items.length === 0) return [];
  const counts = new Map<string, Record<string, number>>();
  const rows = await queryRows<{ a: string; b: string; n: number }>(deps.database, ENRICH_SQL.counts, [JSON.stringify(items.map((i) => i.post.id))]);
  for (const r of rows) {
    let c = counts.get(r.a);
    if (!c) counts.set(r.a, (c = {}));
    c[r.b] = Number(r.n);
  }
  return items.map(({ post, author, repost }) => toPost(deps, post, author, null, { reaction_counts: counts.get(post.id) ?? {}, repost }));
}

/** The public post each personalized copy was made from (for serializing a page from cached public JSON). */
const originals = new WeakMap<PostT, PostT>();
export const publicOriginal = (post: PostT): PostT | undefined => originals.get(post);

const NOBODY: ViewerState = { mine: new Map(), followed: new Set(), blocked: new Set(), muted: new Set(), saved: new Set(), reposted: new Set() };
// A viewer reading the same page again (refresh, polling, the plugin re-opening its feed) while nothing changed:
// the statement is answered from an exact cache on bun:sqlite (deps.caches.viewerStates), like the page itself.
/** Entries of deps.caches.viewerStates. */
export const VIEWER_STATE_ENTRIES = 512;

/** The viewer's reactions on, saves and reposts of these posts, which of their authors the viewer follows, blocks or mutes: one statement. */
function viewerState(deps: Deps, viewerId: string, posts: PostT[], authorIds: string[]): Promise<ViewerState> {
  const postIds = JSON.stringify(posts.map((p) => p.id));
  return deps.caches.viewerStates.get(`${viewerId}:${postIds}`, async () => {
    const others = JSON.stringify(authorIds.filter((id) => id !== viewerId));
    const rows = await queryRows<{ k: string; a: string; b: string }>(deps.database, ENRICH_SQL.viewer, [
      viewerId,
      postIds,
      ...[viewerId, others, viewerId, others, viewerId, others, viewerId, others],
      viewerId,
      postIds,
      viewerId,
      postIds,
    ]);
    const mine = new Map<string, string>();
    const followed = new Set<string>();
    const blocked = new Set<string>();
    const muted = new Set<string>();
    const saved = new Set<string>();
    const reposted = new Set<string>();
    const sets: Record<string, Set<string>> = { f: followed, b: blocked, m: muted, s: saved, p: reposted };
    for (const r of rows) {
      if (r.k === "r") mine.set(r.a, r.b);
      else sets[r.k]?.add(r.a);
    }
    return { mine, followed, blocked, muted, saved, reposted };
  });
}

/**
 * What a viewer is not shown (README "Blocking and muting"): loops of users blocked either way, always; in a feed
 * (`feed`), also loops of users the viewer muted. The hidden authors come with the viewer's state (one statement,
 * cached with it), so filtering a cached page costs no statement of its own. A filtered page keeps its meta
 * (has_more, next_cursor, and the offset the plugin adds its limit to), so paging skips nothing and repeats nothing.
 */
export type Hide = { feed: boolean };

/**
 * The viewer's posts: new objects with the viewer's fields and the authors' presence (public posts are never
 * changed, so a cached page can be handed out again), without the posts hidden from the viewer (see Hide).
 */
export async function personalize(deps: Deps, page: PostT[], viewerId: string | null, hide: Hide = { feed: false }): Promise<PostT[]> {
  if (page.length === 0) return [];
  const state = viewerId === null ? undefined : await viewerState(deps, viewerId, page, [...new Set(page.map((p) => p.user_id))]);
  const { mine, followed, saved, reposted } = state ?? NOBODY;
  const posts = state ? shownPart(page, state, hide) : page;
  if (posts.length === 0) return [];
  const authorIds = [...new Set(posts.map((p) => p.user_id))];
  // Presence is for the author and their followers only, as over the WebSocket (docs/security.md, Data exposure).
  const watched = authorIds.filter((id) => seesPresence(viewerId, id, followed.has(id)));
  const presence = watched.length ? await authorPresence(deps, watched) : undefined;
  // Nobody signed in: the public posts are already exactly this (no copies to make).
  if (viewerId === null) return posts;
  // The same viewer reading the same cached page again while nothing changed gets the same (frozen) copies, so
  // the feed route can reuse the body it made from them (feed-routes.ts) instead of allocating ~50 KB again.
  const sig = presence ? [...presence].map(([id, p]) => `${id}:${+p.is_online}${+p.is_in_studio}`).join() : "";
  const memo = state && copiesMemo.get(posts)?.get(state);
  if (memo?.sig === sig) return memo.copies;
  const copies = posts.map((p) => {
    const emoji = mine.get(p.id);
    const live = presence?.get(p.user_id);
    const copy = {
      ...p,
      ...viewerFields(p.user_id, viewerId, {
        user_reaction: emoji,
        is_liked: emoji !== undefined,
        is_following: followed.has(p.user_id),
        is_saved: saved.has(p.id),
        is_reposted: reposted.has(p.id),
        is_online: live?.is_online,
        is_in_studio: live?.is_in_studio,
      }),
    };
    originals.set(copy, p);
    return Object.freeze(copy);
  });
  Object.freeze(copies);
  if (state) {
    let byState = copiesMemo.get(posts);
    if (!byState) copiesMemo.set(posts, (byState = new WeakMap()));
    byState.set(state, { sig, copies });
  }
  return copies;
}

/**
 * Copies already made, per public posts array (a cached page, so the same only while the database is unchanged)
 * and per viewer state (also cached per version), with the presence they were made with. Both keys are weak: the
 * memo lives as long as those caches keep their values.
 */
const copiesMemo = new WeakMap<PostT[], WeakMap<ViewerState, { sig: string; copies: PostT[] }>>();

/** The shown part of a cached page, per page and viewer state (as copiesMemo), in a feed and elsewhere. */
const shownMemo = new WeakMap<PostT[], WeakMap<ViewerState, { feed?: PostT[]; page?: PostT[] }>>();

/**
 * The page without the posts hidden from the viewer: the page itself when nothing is hidden, else the same array for
 * the same page and state every time, so the copies (copiesMemo) and the feed's body are still made once.
 */
function shownPart(page: PostT[], state: ViewerState, hide: Hide): PostT[] {
  const { blocked, muted } = state;
  const hidden = (id: string) => blocked.has(id) || (hide.feed && muted.has(id));
  if (!page.some((p) => hidden(p.user_id))) return page;
  let byState = shownMemo.get(page);
  if (!byState) shownMemo.set(page, (byState = new WeakMap()));
  let kept = byState.get(state);
  if (!kept) byState.set(state, (kept = {}));
  const key = hide.feed ? "feed" : "page";
  return (kept[key] ??= page.filter((p) => !hidden(p.user_id)));
}

/** The page as the API shows it to this viewer, in the order given. */
export async function enrichPosts(deps: Deps, items: PostWithAuthor[], viewerId: string | null): Promise<PostT[]> {
  return personalize(deps, await publicPosts(deps, items), viewerId);
}

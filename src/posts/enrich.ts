// Per-viewer fields of a page of posts (shared/API.md section 2): reaction_counts, user_reaction, is_liked,
// is_following, is_own_post, and the author's presence. A page costs the same small number of statements whatever
// its size (shared/DESIGN.md "Data rules": no N+1): one statement without a viewer (reaction counts), one with a
// viewer (counts, the viewer's reactions and the viewer's follows of the page's authors, as one UNION ALL). The id
// lists travel as one JSON array parameter read by json_each(), so the SQL text is constant (prepared once) and
// every branch is an index search: reactions_post_idx (post_id, emoji), the reactions primary key (user_id,
// post_id) and the follows primary key (follower_id, followee_id). Author presence is one batched lookup through
// the realtime feature's hook (its own constant cost), never one per post.
import type { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { queryRows } from "../db/prepared.ts";
import type { PostT } from "./models.ts";
import { toPost, type PostRow } from "./service.ts";

export type Author = Pick<typeof users.$inferSelect, "id" | "username" | "displayName" | "avatarKey">;
export type PostWithAuthor = { post: PostRow; author: Author };

/**
 * Author presence, looked up for a whole page at once: the hook the realtime feature fills as `deps.presence`
 * (it applies each author's show_activity_status itself). Without it, or when it fails, every author reads as
 * offline: presence decorates a feed, it never breaks one.
 */
export type PresenceHook = { lookup(userIds: readonly string[]): Promise<Map<string, { is_online: boolean; is_in_studio: boolean }>> };

async function authorPresence(deps: Deps, userIds: string[]) {
  const hook = (deps as Deps & { presence?: PresenceHook }).presence;
  if (!hook) return undefined;
  try {
    return await hook.lookup(userIds);
  } catch (err) {
    deps.log.warn("author presence unavailable; showing authors offline", { reason: String(err) });
    return undefined;
  }
}

export const ENRICH_SQL = {
  /** ?1 = JSON array of post ids. */
  counts: `SELECT post_id AS a, emoji AS b, count(*) AS n FROM reactions WHERE post_id IN (SELECT value FROM json_each(?)) GROUP BY post_id, emoji`,
  /** ?1 = post ids, ?2 = viewer id, ?3 = post ids, ?4 = viewer id, ?5 = JSON array of author ids. */
  withViewer: `SELECT 'c' AS k, post_id AS a, emoji AS b, count(*) AS n FROM reactions WHERE post_id IN (SELECT value FROM json_each(?)) GROUP BY post_id, emoji
UNION ALL SELECT 'r', post_id, emoji, 1 FROM reactions WHERE user_id = ? AND post_id IN (SELECT value FROM json_each(?))
UNION ALL SELECT 'f', followee_id, '', 1 FROM follows WHERE follower_id = ? AND followee_id IN (SELECT value FROM json_each(?))`,
} as const;

type EnrichRow = { k?: string; a: string; b: string; n: number };

/** The page as the API shows it, in the order given. */
export async function enrichPosts(deps: Deps, items: PostWithAuthor[], viewerId: string | null): Promise<PostT[]> {
  if (items.length === 0) return [];
  const postIds = JSON.stringify(items.map((i) => i.post.id));
  const counts = new Map<string, Record<string, number>>();
  const mine = new Map<string, string>();
  const followed = new Set<string>();
  const add = (postId: string, emoji: string, n: number) => {
    let c = counts.get(postId);
    if (!c) counts.set(postId, (c = {}));
    c[emoji] = Number(n);
  };
  if (viewerId === null) {
    for (const r of await queryRows<EnrichRow>(deps.database, ENRICH_SQL.counts, [postIds])) add(r.a, r.b, r.n);
  } else {
    const authorIds = JSON.stringify([...new Set(items.map((i) => i.post.userId))].filter((id) => id !== viewerId));
    for (const r of await queryRows<EnrichRow>(deps.database, ENRICH_SQL.withViewer, [postIds, viewerId, postIds, viewerId, authorIds])) {
      if (r.k === "c") add(r.a, r.b, r.n);
      else if (r.k === "r") mine.set(r.a, r.b);
      else followed.add(r.a);
    }
  }
  const presence = await authorPresence(deps, [...new Set(items.map((i) => i.post.userId))]);
  return items.map(({ post, author }) => {
    const emoji = mine.get(post.id);
    const p = presence?.get(post.userId);
    return toPost(deps, post, author, viewerId, {
      reaction_counts: counts.get(post.id) ?? {},
      user_reaction: emoji ?? "",
      is_liked: emoji !== undefined,
      is_following: followed.has(post.userId),
      is_online: p?.is_online ?? false,
      is_in_studio: p?.is_in_studio ?? false,
    });
  });
}

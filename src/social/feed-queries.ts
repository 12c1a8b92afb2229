// The SQL of the feeds: constant texts (prepared once per connection, see src/db/prepared.ts) so that
// test/api/feeds-plan.test.ts runs EXPLAIN QUERY PLAN on exactly these and fails on any table scan.
// Chronological feeds are keyset-paginated on (created_at, id) with a row-value comparison, which SQLite answers
// as a range over posts_feed_author_idx (status, created_at, id) or posts_user_feed_idx (user_id, status, created_at, id).
// A first page uses the cursor (MAX_SAFE_INTEGER, ""), so one text serves first pages, cursor pages and offsets.
import { getTableColumns } from "drizzle-orm";
import { posts } from "../db/schema.ts";
import type { PostRow } from "../posts/service.ts";
import type { PostWithAuthor } from "../posts/enrich.ts";

/** The keyset before every post. */
export const TOP = { createdAt: Number.MAX_SAFE_INTEGER, id: "" };

/**
 * How many of the newest ready posts the timeline looks through for the viewer's followees before it switches to
 * reading each followee's posts. Dense timelines (a viewer following active producers) find a page within the
 * first few hundred posts; sparse ones (a few quiet followees) are answered exactly by the per-followee plan,
 * whose cost is the followees' own post count. Either way a page is bounded work, never a scan of all posts.
 */
export const TIMELINE_SCAN_BUDGET = 2000;

const AUTHOR = `u.username AS author_username, u.display_name AS author_display_name, u.avatar_key AS author_avatar_key`;

export const FEED_SQL = {
  /** Every ready post, newest first. Params: cursor created_at, cursor id, limit, offset. */
  global: `SELECT p.*, ${AUTHOR} FROM posts p JOIN users u ON u.id = p.user_id
WHERE p.status = 'ready' AND (p.created_at, p.id) < (?, ?)
ORDER BY p.created_at DESC, p.id DESC LIMIT ? OFFSET ?`,

  /**
   * Timeline, dense plan: the newest TIMELINE_SCAN_BUDGET ready posts below the cursor (read from the index, in
   * order), kept when their author is followed by the viewer or is the viewer. Exact whenever it returns a full
   * page. Params: cursor created_at, cursor id, budget, viewer, viewer, limit, offset.
   */
  timelineRecent: `SELECT p.*, ${AUTHOR} FROM (
  SELECT id, user_id, created_at FROM posts WHERE status = 'ready' AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?
) AS recent JOIN posts p ON p.id = recent.id JOIN users u ON u.id = p.user_id
WHERE recent.user_id IN (SELECT followee_id FROM follows WHERE follower_id = ? UNION ALL SELECT ?)
ORDER BY recent.created_at DESC, recent.id DESC LIMIT ? OFFSET ?`,

  /**
   * Timeline, sparse plan: each followee's (and the viewer's own) ready posts below the cursor from
   * posts_user_feed_idx (covering: no row reads), merged by a sort, then the page's rows. CROSS JOIN fixes the
   * join order (followees first). Params: viewer, viewer, cursor created_at, cursor id, limit, offset.
   */
  timelineFollowed: `SELECT p.*, ${AUTHOR} FROM (
  SELECT fp.id AS id, fp.created_at AS created_at
  FROM (SELECT followee_id AS uid FROM follows WHERE follower_id = ? UNION ALL SELECT ?) AS followed
  CROSS JOIN posts fp ON fp.user_id = followed.uid AND fp.status = 'ready' AND (fp.created_at, fp.id) < (?, ?)
  ORDER BY fp.created_at DESC, fp.id DESC LIMIT ? OFFSET ?
) AS page JOIN posts p ON p.id = page.id JOIN users u ON u.id = p.user_id
ORDER BY page.created_at DESC, page.id DESC`,

  /**
   * Timeline, the reposts stream (README "Reposts"): loops reposted by the people the viewer follows (not muted), each
   * loop once, at its most recent such repost, below the cursor, newest first. Left out: the viewer's own loops and
   * those of producers the viewer follows (their original is in the timeline already), and loops not ready. Each
   * followee's reposts come from reposts_user_idx (user_id, created_at, post_id) below the cursor, merged by a sort;
   * "a later repost by another followee" is a search of reposts_post_idx (post_id, ...) for that loop. The sort reads
   * every repost of the followees below the cursor (cheap while reposts are few; see README "Reposts"). CROSS JOIN
   * keeps the viewer's follows as the outer loop; the loop's row and the names are read for the page's rows only.
   * Params: cursor created_at, cursor id, then the viewer six times, then limit.
   */
  timelineReposts: `SELECT p.*, ${AUTHOR}, page.user_id AS reposter_id, ru.username AS reposter_username, ru.display_name AS reposter_display_name,
  ru.avatar_key AS reposter_avatar_key, page.quote AS repost_quote, page.created_at AS reposted_at
FROM (
  SELECT r.post_id, r.user_id, r.quote, r.created_at
  FROM follows f CROSS JOIN reposts r ON r.user_id = f.followee_id AND (r.created_at, r.post_id) < (?, ?)
  JOIN posts rp ON rp.id = r.post_id
  WHERE f.follower_id = ? AND rp.status = 'ready' AND rp.user_id <> ?
    AND NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = ? AND m.muted_id = r.user_id)
    AND NOT EXISTS (SELECT 1 FROM follows pf WHERE pf.follower_id = ? AND pf.followee_id = rp.user_id)
    AND NOT EXISTS (
      SELECT 1 FROM reposts later JOIN follows lf ON lf.follower_id = ? AND lf.followee_id = later.user_id
      WHERE later.post_id = r.post_id AND (later.created_at, later.user_id) > (r.created_at, r.user_id)
        AND NOT EXISTS (SELECT 1 FROM mutes lm WHERE lm.muter_id = ? AND lm.muted_id = later.user_id))
  ORDER BY r.created_at DESC, r.post_id DESC LIMIT ?
) AS page JOIN posts p ON p.id = page.post_id JOIN users u ON u.id = p.user_id JOIN users ru ON ru.id = page.user_id
ORDER BY page.created_at DESC, page.post_id DESC`,

  /** Whether any repost at all is below the cursor (none: the timeline skips its reposts stream). Params: cursor created_at, id. */
  anyRepostBefore: `SELECT 1 AS x FROM reposts WHERE (created_at, post_id) < (?, ?) LIMIT 1`,

  /** Whether the viewer follows anyone (the unified feed's fallback). Params: viewer. */
  followsAnyone: `SELECT 1 AS x FROM follows WHERE follower_id = ? LIMIT 1`,

  /** Everyone the viewer follows (discovery excludes them). Params: viewer. */
  followees: `SELECT followee_id AS id FROM follows WHERE follower_id = ?`,

  /**
   * Trending candidates: the newest ready posts of the window, with their counters. Params: window start,
   * now, cap. (posts_feed_author_idx range; the counters are read from the rows.)
   */
  trendingWindow: `SELECT id, user_id, created_at, like_count, play_count FROM posts
WHERE status = 'ready' AND created_at >= ? AND created_at <= ? ORDER BY created_at DESC, id DESC LIMIT ?`,

  /** The newest ready posts whatever their age (a quiet community still has a trending tab). Params: now, count. */
  trendingNewest: `SELECT id, user_id, created_at, like_count, play_count FROM posts
WHERE status = 'ready' AND created_at <= ? ORDER BY created_at DESC, id DESC LIMIT ?`,

  /**
   * Ready posts by id, any order (the ranked feeds order them). Params: JSON array of ids. CROSS JOIN keeps the id
   * list as the outer loop: with `p.id IN (...) AND p.status = 'ready'` SQLite may prefer posts_feed_author_idx
   * (status = 'ready'), which on a large table reads every ready post.
   */
  byIds: `SELECT p.*, ${AUTHOR} FROM json_each(?) AS wanted CROSS JOIN posts p ON p.id = wanted.value JOIN users u ON u.id = p.user_id
WHERE p.status = 'ready'`,
} as const;

// Raw rows → the drizzle row shape toPost() takes, using the schema's own column names and decoders (JSON
// columns), so a column added to posts is mapped without touching this file.
const COLUMNS = Object.entries(getTableColumns(posts)).map(([key, column]) => ({ key, name: column.name, column }));

export type RawFeedRow = Record<string, unknown> & { author_username: string; author_display_name: string; author_avatar_key: string | null };

/** A row of FEED_SQL.timelineReposts: a feed row with its reposter, quote and time. */
export type RawRepostRow = RawFeedRow & {
  reposter_id: string;
  reposter_username: string;
  reposter_display_name: string;
  reposter_avatar_key: string | null;
  repost_quote: string;
  reposted_at: number;
};

export function toRepostEntry(r: RawRepostRow): PostWithAuthor {
  const by = { id: r.reposter_id, username: r.reposter_username, displayName: r.reposter_display_name, avatarKey: r.reposter_avatar_key };
  return { ...toPostWithAuthor(r), repost: { by, at: Number(r.reposted_at), quote: r.repost_quote } };
}

export function toPostWithAuthor(r: RawFeedRow): PostWithAuthor {
  const post: Record<string, unknown> = {};
  for (const { key, name, column } of COLUMNS) {
    const v = r[name];
    post[key] = v === null || v === undefined ? null : column.mapFromDriverValue(v);
  }
  const p = post as PostRow;
  return { post: p, author: { id: p.userId, username: r.author_username, displayName: r.author_display_name, avatarKey: r.author_avatar_key } };
}

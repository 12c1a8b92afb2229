// The SQL of discover (README "Discover"; docs/architecture.md "Discover"): constant texts, prepared once per
// connection (src/db/prepared.ts), so that test/api/discover-plan.test.ts runs EXPLAIN QUERY PLAN on exactly these.
// Loops are read from post_genres (one row per genre of each ready loop, kept by triggers on search_posts:
// drizzle/0025_discover_triggers.sql) through its two covering indexes, producers from follows and users.

/** Hidden from the viewer (?p; "" for nobody): producers blocked either way, and those the viewer mutes. */
const HIDDEN = (col: string, p: string) =>
  `${col} NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = ${p} UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = ${p}
    UNION ALL SELECT muted_id FROM mutes WHERE muter_id = ${p})`;

/** A producer people can be pointed to: approved, not suspended (`+`: never read users_approval_idx for it, it holds nearly everyone). */
const LISTED = (u: string) => `${u}.suspended_at IS NULL AND +${u}.approval = 'approved'`;

/**
 * Active recently (README "Discover"): seen online (last_active_at, written by the realtime hub) or published a
 * loop since ?p. The loop check is one probe of posts_user_feed_idx (user_id, status, created_at).
 */
const ACTIVE = (u: string, p: string) =>
  `(${u}.last_active_at >= ${p} OR EXISTS (SELECT 1 FROM posts ap WHERE ap.user_id = ${u}.id AND ap.status = 'ready' AND ap.created_at >= ${p}))`;

/** One BPM band of the similar-loops rule: the candidates of the genres `from` names, with their distance in source BPM. */
const band = (from: string, dist: string, lo: string, hi: string) =>
  `SELECT g.post_id AS post_id, g.doc_id AS doc_id, g.user_id AS user_id, ${dist} AS dist FROM ${from}
  AND g.key_class = ?2 AND g.bpm BETWEEN ${lo} AND ${hi}`;

/** The three bands (BPM ±3, half time ±1.5, double time ±6) over the genres `from` names. */
const bands = (from: string) => `${band(from, "abs(g.bpm - ?3)", "?3 - 3", "?3 + 3")}
  UNION ALL ${band(from, "abs(g.bpm * 2 - ?3)", "?3 / 2.0 - 1.5", "?3 / 2.0 + 1.5")}
  UNION ALL ${band(from, "abs(g.bpm / 2.0 - ?3)", "?3 * 2 - 6", "?3 * 2 + 6")}`;

export const DISCOVER_SQL = {
  /** Genres of ready loops with their counts (the counts table search keeps), most used first. Params: ?1 limit. */
  genres: `SELECT genre, post_count FROM search_genres WHERE post_count > 0 ORDER BY post_count DESC, genre LIMIT ?1`,

  /**
   * Loops of one genre (any case), newest published first: a range of post_genres_genre_idx, read in order. Params:
   * ?1 genre, ?2 doc_id cursor (exclusive), ?3 viewer ("" for nobody), ?4 limit, ?5 offset.
   */
  loopsByGenre: `SELECT g.doc_id AS doc_id, g.post_id AS post_id, g.user_id AS user_id FROM post_genres g
WHERE g.genre = lower(trim(?1)) AND g.doc_id < ?2 AND ${HIDDEN("g.user_id", "?3")}
ORDER BY g.doc_id DESC LIMIT ?4 OFFSET ?5`,

  /**
   * What the similar-loops rule compares, for one loop: a row per genre, and whether its producer and the viewer
   * block each other (either way). Params: ?1 post id, ?2 viewer ("" for nobody).
   */
  source: `SELECT genre, key_class, bpm,
  EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = ?2 AND blocked_id = user_id) OR (blocker_id = user_id AND blocked_id = ?2)) AS blocked
FROM post_genres WHERE post_id = ?1`,

  /**
   * Loops similar to one (README "Discover"): a shared genre, the same key class (the key or its relative
   * major/minor), and BPM within 3 of the source's, or within 1.5 of half of it, or within 6 of double it (half and
   * double time, the ±3 scaled). Three ranges of post_genres_similar_idx per shared genre; `dist` is the BPM
   * difference brought to the source's tempo (so every match is within 3). Closest first, then newest published.
   * Params: ?1 JSON array of the source's genres (as stored), ?2 key class, ?3 BPM, ?4 the source's id, ?5 viewer,
   * ?6 limit, ?7 offset.
   */
  similar: `SELECT c.post_id AS post_id, min(c.dist) AS dist, max(c.doc_id) AS doc_id, c.user_id AS user_id FROM (
  ${bands("json_each(?1) AS w CROSS JOIN post_genres g ON g.genre = w.value")}
) AS c
WHERE c.post_id <> ?4 AND ${HIDDEN("c.user_id", "?5")}
GROUP BY c.post_id ORDER BY min(c.dist), max(c.doc_id) DESC LIMIT ?6 OFFSET ?7`,

  /**
   * The same for a loop of one genre (most loops): each loop is found once, so nothing is grouped and the page is
   * the top of the candidates (SQLite keeps only limit + offset of them while sorting). ?1 is the genre.
   */
  similarOneGenre: `SELECT c.post_id AS post_id, c.dist AS dist, c.doc_id AS doc_id, c.user_id AS user_id FROM (
  ${bands("post_genres g WHERE g.genre = ?1")}
) AS c
WHERE c.post_id <> ?4 AND ${HIDDEN("c.user_id", "?5")}
ORDER BY c.dist, c.doc_id DESC LIMIT ?6 OFFSET ?7`,

  /**
   * Producers you may like: followed by the people you follow, ranked by how many of them follow each (then most
   * followed). Not you, nobody you follow already, nobody hidden from you, only listed producers active since ?2.
   * Params: ?1 viewer, ?2 active since (ms), ?3 limit, ?4 offset.
   */
  friendsOfFriends: `SELECT f2.followee_id AS id, count(*) AS n FROM follows f1 CROSS JOIN follows f2 ON f2.follower_id = f1.followee_id
CROSS JOIN users u ON u.id = f2.followee_id
WHERE f1.follower_id = ?1 AND f2.followee_id <> ?1 AND f2.followee_id NOT IN (SELECT followee_id FROM follows WHERE follower_id = ?1)
  AND ${HIDDEN("f2.followee_id", "?1")} AND ${LISTED("u")} AND ${ACTIVE("u", "?2")}
GROUP BY f2.followee_id ORDER BY n DESC, u.follower_count DESC, u.id LIMIT ?3 OFFSET ?4`,

  /**
   * Active popular producers (the fallback while you follow nobody, and the featured list): most followed first,
   * walked in users_popular_idx order until the page is full. Not you (?1, "" for nobody), nobody you follow or
   * who is hidden from you. Params: ?1 viewer, ?2 active since (ms), ?3 limit, ?4 offset.
   */
  popular: `SELECT u.id AS id FROM users u
WHERE ${LISTED("u")} AND u.id <> ?1 AND u.id NOT IN (SELECT followee_id FROM follows WHERE follower_id = ?1)
  AND ${HIDDEN("u.id", "?1")} AND ${ACTIVE("u", "?2")}
ORDER BY u.follower_count DESC, u.id DESC LIMIT ?3 OFFSET ?4`,

  /**
   * Producers like one producer: the ones most followed by that producer's 200 newest followers (people who follow
   * X also follow Y), then most followed. Not X, not the viewer, nobody hidden from the viewer, listed only.
   * Params: ?1 the producer, ?2 viewer ("" for nobody), ?3 limit.
   */
  coFollowed: `SELECT f2.followee_id AS id, count(*) AS n FROM (
  SELECT follower_id FROM follows WHERE followee_id = ?1 ORDER BY created_at DESC LIMIT 200
) AS fans CROSS JOIN follows f2 ON f2.follower_id = fans.follower_id CROSS JOIN users u ON u.id = f2.followee_id
WHERE f2.followee_id <> ?1 AND f2.followee_id <> ?2 AND ${HIDDEN("f2.followee_id", "?2")} AND ${LISTED("u")}
GROUP BY f2.followee_id ORDER BY n DESC, u.follower_count DESC, u.id LIMIT ?3`,
} as const;

// The SQL of search: constant texts (prepared once per connection, src/db/prepared.ts), so that
// test/api/search-plan.test.ts runs EXPLAIN QUERY PLAN on exactly these. The index tables (search_posts,
// search_users, their FTS5 tables, search_genres) are made and kept by triggers (drizzle/0022_search_index.sql;
// docs/architecture.md "Search").
//
// Loops are found newest published first: the FTS5 table is walked in descending rowid (doc_id) order, which FTS5
// does natively, and each match is checked against the filters on its search_posts row (a primary-key lookup) until
// the page is full. So a page costs the matches looked at, not every match, and nothing is sorted. The cursor is
// the doc_id of the last loop shown.

/** Hidden from the viewer: producers they block or who block them (?10; "" for nobody signed in). */
const NOT_BLOCKED = (col: string, p: string) =>
  `${col} NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = ${p} UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = ${p})`;

/** The filters of a loop search on its search_posts row `d`. Params ?3…?10 (LoopFilters in query.ts, then viewer). */
const FILTERS = `(?3 IS NULL OR d.bpm >= ?3) AND (?4 IS NULL OR d.bpm <= ?4)
  AND (?5 IS NULL OR d.key IN (SELECT value FROM json_each(?5)))
  AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(d.genres) WHERE value = ?6 COLLATE NOCASE))
  AND (?7 IS NULL OR d.daw = ?7 COLLATE NOCASE)
  AND (?8 IS NULL OR d.duration_seconds >= ?8) AND (?9 IS NULL OR d.duration_seconds <= ?9)
  AND ${NOT_BLOCKED("d.user_id", "?10")}`;

export const SEARCH_SQL = {
  /**
   * Loops matching an FTS5 expression and the filters, newest published first. CROSS JOIN keeps the FTS table the
   * outer loop (its rowid order is the page order). Params: ?1 match, ?2 doc_id cursor (exclusive), ?3–?10 filters
   * and viewer, ?11 limit, ?12 offset.
   */
  postsByText: `SELECT d.doc_id AS doc_id, d.post_id AS post_id FROM search_posts_fts CROSS JOIN search_posts d ON d.doc_id = search_posts_fts.rowid
WHERE search_posts_fts MATCH ?1 AND search_posts_fts.rowid < ?2 AND ${FILTERS}
ORDER BY search_posts_fts.rowid DESC LIMIT ?11 OFFSET ?12`,

  /**
   * Loops by filters alone (key, BPM, duration, DAW; a genre goes through FTS5): search_posts in doc_id order, newest
   * first, each row checked until the page is full. A walk that stops early, reading about limit ÷ the share of loops
   * that pass (50 rows for a key and its relative); reading a key's loops from an index instead would sort all of
   * them (40 % of the loops for Am and C). Same params as postsByText (?1 is "").
   */
  postsByFilters: `SELECT d.doc_id AS doc_id, d.post_id AS post_id FROM search_posts d
WHERE ?1 = '' AND d.doc_id < ?2 AND ${FILTERS}
ORDER BY d.doc_id DESC LIMIT ?11 OFFSET ?12`,

  /**
   * Producers matching an FTS5 expression (username and display name), most followed first; suspended and pending
   * accounts are not in the index. Params: ?1 match, ?2 viewer ("" for nobody), ?3 limit, ?4 offset.
   */
  users: `SELECT u.id AS id, u.username AS username FROM search_users_fts CROSS JOIN search_users d ON d.doc_id = search_users_fts.rowid
JOIN users u ON u.id = d.user_id
WHERE search_users_fts MATCH ?1 AND ${NOT_BLOCKED("d.user_id", "?2")}
ORDER BY u.follower_count DESC, u.id LIMIT ?3 OFFSET ?4`,

  /** Genres by prefix (case-insensitive range on the primary key), most used first. Params: ?1 from, ?2 below, ?3 limit. */
  genres: `SELECT genre FROM search_genres WHERE genre >= ?1 AND genre < ?2 AND post_count > 0 ORDER BY post_count DESC, genre LIMIT ?3`,

  /** Titles of the newest loops whose title matches. Params: ?1 match (title column), ?2 viewer, ?3 limit. */
  titles: `SELECT d.title AS title FROM search_posts_fts CROSS JOIN search_posts d ON d.doc_id = search_posts_fts.rowid
WHERE search_posts_fts MATCH ?1 AND ${NOT_BLOCKED("d.user_id", "?2")}
ORDER BY search_posts_fts.rowid DESC LIMIT ?3`,
} as const;

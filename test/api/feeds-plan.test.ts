// Query plans of the feed paths on bun:sqlite: EXPLAIN QUERY PLAN of every statement a feed request really runs
// (captured from the connection while the request is served), and of every feed SQL text whether or not a request
// happened to use it (the sparse timeline plan), on a seeded community of 20,000 posts. Any full scan of a table
// fails the test, and so does a search on posts.status alone: a feed page must be index searches only
// (docs/architecture.md "Data rules"). Scans of json_each() id lists, constant rows and the feeds' own subqueries are
// not table scans.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database as SQLite } from "bun:sqlite";
import { eq } from "drizzle-orm";
import { posts } from "../../src/db/schema.ts";
import { FEED_SQL } from "../../src/social/feed-queries.ts";
import { ENRICH_SQL } from "../../src/posts/enrich.ts";
import type { TestEnv } from "../support/deps.ts";
import { capturedReads, plannedCommunity, tableScans } from "../support/query-plan.ts";

describe("feed query plans on sqlite", () => {
  let env: TestEnv;
  let client: SQLite;
  let tables: Set<string>;
  let token: string;
  let authorId: string;
  let postId: string;

  beforeAll(async () => {
    // SQLite sizes its plans by the tables' page counts, so plans are checked on a community big enough to choose like
    // production: a plan that is fine on ten rows can read every post at 20,000.
    ({ env, client, tables, token } = await plannedCommunity(50_000));
    const [someone] = await env.deps.database.db.select({ id: posts.id, userId: posts.userId }).from(posts).where(eq(posts.status, "ready")).limit(1);
    postId = someone!.id;
    authorId = someone!.userId;
  }, 60_000);
  afterAll(() => env.close());

  test("the detector sees a table scan when there is one", () => {
    expect(tableScans(client, "SELECT * FROM posts p WHERE p.title = 'x'", tables)).toEqual(["SCAN p"]);
    expect(tableScans(client, `SELECT * FROM "reactions" WHERE "emoji" = 'x'`, tables).length).toBe(1);
    expect(tableScans(client, "SELECT id FROM posts WHERE status = 'ready' AND title = 'x'", tables)).toEqual([
      "SEARCH posts USING INDEX posts_feed_author_idx (status=?)",
    ]);
    expect(tableScans(client, "SELECT value FROM json_each('[1]')", tables)).toEqual([]);
  });

  for (const [name, text] of Object.entries({ ...FEED_SQL, ...Object.fromEntries(Object.entries(ENRICH_SQL).map(([k, v]) => [`enrich.${k}`, v])) })) {
    test(`${name}: no table scan`, () => {
      expect({ name, scans: tableScans(client, text, tables) }).toEqual({ name, scans: [] });
    });
  }

  test('the timeline with reposts by followees (README "Reposts"): both streams and the merge are index searches', async () => {
    // The signed-in member (the seed's producer0) follows 100 producers; 20 of them repost 40 loops of others.
    const bench = client.query<{ id: string }, []>("SELECT id FROM users WHERE username = 'producer0'").get()!;
    const followees = client.query<{ id: string }, [string]>("SELECT followee_id AS id FROM follows WHERE follower_id = ? LIMIT 20").all(bench.id);
    const strangers = client
      .query<{ id: string }, [string]>(
        "SELECT id FROM posts WHERE status = 'ready' AND user_id NOT IN (SELECT followee_id FROM follows WHERE follower_id = ?) LIMIT 40",
      )
      .all(bench.id);
    const insert = client.prepare("INSERT OR IGNORE INTO reposts (user_id, post_id, quote, created_at) VALUES (?, ?, '', ?)");
    for (const [i, p] of strangers.entries()) insert.run(followees[i % followees.length]!.id, p.id, env.clock.now() - i * 1000);
    const reads = await capturedReads(client, async () => {
      for (const path of ["/api/v1/feed/timeline?limit=20", "/api/v1/feed/timeline?limit=20&offset=20"]) {
        const res = await env.request(path, { token });
        const body = (await res.json()) as { posts: { is_a_repost: boolean }[] };
        expect(body.posts.some((p) => p.is_a_repost)).toBe(true);
      }
    });
    expect(reads.some((text) => text === FEED_SQL.timelineReposts)).toBe(true);
    for (const text of reads) expect({ text, scans: tableScans(client, text, tables) }).toEqual({ text, scans: [] });
    client.run("DELETE FROM reposts");
  });

  test("every statement a feed request runs is an index search (captured from the connection)", async () => {
    const paths = [
      "/api/v1/feed/global",
      "/api/v1/feed/global?offset=5",
      "/api/v1/feed/timeline",
      "/api/v1/feed/unified",
      "/api/v1/feed/trending",
      "/api/v1/feed/discovery",
      "/api/v1/recommendations/for-you",
      `/api/v1/users/${authorId}/posts`,
      `/api/v1/posts/${postId}`,
    ];
    const reads = await capturedReads(client, async () => {
      for (const path of paths) {
        for (const auth of [token, undefined]) {
          const res = await env.request(path, { token: auth });
          // Timeline and unified answer 401 without a token; everything else 200 with a full page.
          if (res.status !== 200 && !(res.status === 401 && !auth)) throw new Error(`${path}: ${res.status}`);
        }
      }
    });
    expect(reads.length).toBeGreaterThan(8);
    for (const text of reads) expect({ text, scans: tableScans(client, text, tables) }).toEqual({ text, scans: [] });
  });
});

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
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { json } from "../support/auth.ts";
import { seedCommunity } from "../support/community.ts";
import { capturedReads } from "../support/plan.ts";

/** The plan's lines that read a whole table (or a whole index of one), given the tables the database has. */
function tableScans(client: SQLite, text: string, tables: Set<string>): string[] {
  const plan = client.query(`EXPLAIN QUERY PLAN ${text}`).all() as { detail: string }[];
  // Aliases of real tables in this statement ("posts p", "posts AS fp", "\"posts\"").
  const aliases = new Set(tables);
  for (const m of text.matchAll(/["`]?\b(\w+)\b["`]?(?=\s+(?:AS\s+)?["`]?(\w+))/gi)) if (tables.has(m[1]!.toLowerCase())) aliases.add(m[2]!.toLowerCase());
  for (const kw of ["where", "join", "on", "inner", "left", "cross", "order", "group", "limit", "set", "values", "union"]) aliases.delete(kw);
  return plan
    .map((r) => r.detail)
    .filter((d) => {
      const m = /^(SCAN|SEARCH) (\S+)(.*)$/.exec(d);
      if (!m || !aliases.has(m[2]!.replace(/["`]/g, "").toLowerCase())) return false;
      // A search on `status` alone (three values) reads every ready post: a scan in all but name.
      return m[1] === "SCAN" || /\((status=\?)\)$/.test(m[3]!);
    });
}

describe("feed query plans on sqlite", () => {
  let env: TestEnv;
  let client: SQLite;
  let tables: Set<string>;
  let token: string;
  let authorId: string;
  let postId: string;

  beforeAll(async () => {
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    client = (env.deps.database.db as unknown as { $client: SQLite }).$client;
    tables = new Set((client.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name.toLowerCase()));
    // SQLite sizes its plans by the tables' page counts (no ANALYZE is ever run), so the plans are checked on a
    // community big enough to choose like production: a plan that is fine on ten rows can read every post at 20,000.
    const password = "correct horse battery staple";
    const seeded = await seedCommunity(env.deps.database, {
      users: 2000,
      posts: 20_000,
      follows: 20_000,
      reactions: 50_000,
      days: 60,
      benchFollows: 100,
      now: env.clock.now(),
      benchPasswordHash: await Bun.password.hash(password, { algorithm: "argon2id" }),
    });
    const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: seeded.benchUser.email, password } });
    token = (await json(login)).auth.token;
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

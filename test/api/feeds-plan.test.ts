// Query plans of the feed paths on bun:sqlite: EXPLAIN QUERY PLAN of every statement a feed request really runs
// (captured from the connection while the request is served), and of every feed SQL text whether or not a request
// happened to use it (the sparse timeline plan). Any full scan of a table fails the test: a feed page must be
// index searches only (shared/DESIGN.md "Data rules"). Scans of json_each() id lists, constant rows and the
// feeds' own subqueries are not table scans.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database as SQLite } from "bun:sqlite";
import { eq, sql } from "drizzle-orm";
import { follows, posts, reactions, users } from "../../src/db/schema.ts";
import { FEED_SQL } from "../../src/social/feed-queries.ts";
import { ENRICH_SQL } from "../../src/posts/enrich.ts";
import { newUserRow } from "../../src/users/service.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { registerUser } from "../support/auth.ts";

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
      const m = /^SCAN (\S+)/.exec(d);
      return m !== null && aliases.has(m[1]!.replace(/["`]/g, "").toLowerCase());
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
    const { auth } = await registerUser(env);
    token = auth.token;
    const author = newUserRow({ email: null, emailVerified: false, username: `plan_author_${process.pid % 1000}`, displayName: "", passwordHash: null }, env.clock.now());
    authorId = author.id;
    await env.deps.database.db.insert(users).values(author);
    await env.deps.database.db.insert(follows).values({ followerId: auth.user.id, followeeId: authorId, createdAt: env.clock.now() });
    for (let i = 0; i < 30; i++) {
      const id = Bun.randomUUIDv7();
      postId = id;
      await env.deps.database.db.insert(posts).values({
        id,
        userId: i % 2 ? authorId : auth.user.id,
        status: i % 7 === 0 ? "processing" : "ready",
        originalKey: `loops/${id}/a.wav`,
        originalFormat: "wav",
        originalBytes: 1,
        audioKey: `loops/${id}/a.mp3`,
        peaksKey: `loops/${id}/a.json`,
        waveformKey: `loops/${id}/a.svg`,
        createdAt: env.clock.now() - i * 60_000,
        updatedAt: env.clock.now(),
      });
      await env.deps.database.db.insert(reactions).values({ userId: auth.user.id, postId: id, emoji: "🔥", createdAt: env.clock.now() });
    }
    await env.deps.database.db.update(posts).set({ likeCount: sql`1` }).where(eq(posts.status, "ready"));
  });
  afterAll(() => env.close());

  test("the detector sees a table scan when there is one", () => {
    expect(tableScans(client, "SELECT * FROM posts p WHERE p.title = 'x'", tables)).toEqual(["SCAN p"]);
    expect(tableScans(client, `SELECT * FROM "reactions" WHERE "emoji" = 'x'`, tables).length).toBe(1);
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
    const captured = new Map<string, string>();
    const original = { query: client.query, prepare: client.prepare };
    for (const name of ["query", "prepare"] as const) {
      const fn = original[name] as (text: string, ...rest: unknown[]) => unknown;
      (client as unknown as Record<string, unknown>)[name] = function (this: SQLite, text: string, ...rest: unknown[]) {
        if (!text.startsWith("EXPLAIN")) captured.set(text, name);
        return fn.call(this, text, ...rest);
      };
    }
    try {
      for (const path of paths) {
        for (const auth of [token, undefined]) {
          const res = await env.request(path, { token: auth });
          // Timeline and unified answer 401 without a token; everything else 200.
          if (res.status !== 200 && !(res.status === 401 && !auth)) throw new Error(`${path}: ${res.status}`);
        }
      }
    } finally {
      Object.assign(client, original);
    }
    expect(captured.size).toBeGreaterThan(5);
    for (const text of captured.keys()) {
      if (!/^\s*(SELECT|WITH)\b/i.test(text)) continue;
      expect({ text, scans: tableScans(client, text, tables) }).toEqual({ text, scans: [] });
    }
  });
});

// Query plans of the comment paths on bun:sqlite (issue #15's "EXPLAIN QUERY PLAN shows no table scan"): every read
// statement that listing a loop's comments, a comment's replies, one comment, writing, liking and deleting a comment
// run (captured from the connection while the requests are served), on a loop with thousands of comments among
// tens of thousands on other loops, is an index search (docs/architecture.md "Data rules").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database as SQLite } from "bun:sqlite";
import { sql } from "drizzle-orm";
import { expectOk, type Producer, registerProducer } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { capturedReads, planClient, tableScans } from "../support/query-plan.ts";
import { insertReadyPost } from "../support/ready-posts.ts";

describe("comment query plans on sqlite", () => {
  let env: TestEnv;
  let client: SQLite;
  let tables: Set<string>;
  let author: Producer;
  let fan: Producer;
  let loop: string;
  let top: string;

  beforeAll(async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "10000" });
    ({ client, tables } = planClient(env));
    [author, fan] = [await registerProducer(env), await registerProducer(env)];
    loop = await insertReadyPost(env, author.id);
    const others = [];
    for (let i = 0; i < 20; i++) others.push(await insertReadyPost(env, author.id));
    top = (await expectOk(await env.request(`/api/v1/posts/${loop}/comments`, { method: "POST", token: fan.token, json: { content: "first" } }))).id;
    // 2,000 comments on the loop (a third of them replies to the first) and 20,000 on the other loops.
    const now = env.clock.now();
    const seed = (postId: string, n: number, parent: string | null) =>
      env.deps.database.db.run(sql`
        WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ${n})
        INSERT INTO comments (id, post_id, user_id, parent_id, content, created_at)
        SELECT lower(hex(randomblob(16))), ${postId}, ${fan.id}, ${parent}, 'seeded ' || i, ${now} + i FROM k`);
    await seed(loop, 1400, null);
    await seed(loop, 600, top);
    for (const other of others) await seed(other, 1000, null);
  }, 60_000);
  afterAll(() => env.close());

  test("every statement of the comment paths is an index search", async () => {
    const api = (path: string, init: Parameters<TestEnv["request"]>[1] = {}) => env.request(`/api/v1${path}`, { token: fan.token, ...init });
    const reads = await capturedReads(client, async () => {
      for (const q of ["", "?limit=50", "?limit=50&offset=100"]) await expectOk(await api(`/posts/${loop}/comments${q}`));
      await expectOk(await env.request(`/api/v1/posts/${loop}/comments?limit=50`));
      await expectOk(await api(`/comments/${top}/replies?limit=50`));
      await expectOk(await api(`/comments/${top}`));
      const c = await expectOk(await api(`/posts/${loop}/comments`, { method: "POST", json: { content: `hi @${author.username}`, parent_id: top } }));
      await expectOk(await api(`/comments/${c.id}/like`, { method: "POST", json: {} }));
      await expectOk(await api(`/comments/${c.id}`, { method: "PUT", json: { content: "edited" } }));
      await expectOk(await api(`/comments/${c.id}`, { method: "DELETE" }));
    });
    expect(reads.length).toBeGreaterThan(8);
    for (const text of reads) expect({ text, scans: tableScans(client, text, tables) }).toEqual({ text, scans: [] });
  });
});

// Query plans of the stories paths on bun:sqlite (issue #15's "EXPLAIN QUERY PLAN shows no table scan"): every read
// statement that the stories feed, one producer's stories, one story, a view, the viewers list and the highlights
// run (captured from the connection while the requests are served), among 2,000 producers with 20,000 stories (a
// third of them expired) and 20,000 views, is an index search (docs/architecture.md "Data rules").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database as SQLite } from "bun:sqlite";
import { sql } from "drizzle-orm";
import { expectOk, type Producer, registerProducer } from "../support/auth.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { capturedReads, planClient, tableScans } from "../support/query-plan.ts";

describe("stories query plans on sqlite", () => {
  let env: TestEnv;
  let client: SQLite;
  let tables: Set<string>;
  let author: Producer;
  let fan: Producer;
  const story = "seeded-story-of-author";
  const highlight = "seeded-highlight-of-author";

  beforeAll(async () => {
    env = await createTestEnv("sqlite", { RATE_LIMIT_AUTH_PER_MIN: "10000" });
    ({ client, tables } = planClient(env));
    [author, fan] = [await registerProducer(env), await registerProducer(env)];
    const now = env.clock.now();
    const db = env.deps.database.db;
    await db.run(sql`
      WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 2000)
      INSERT INTO users (id, username, created_at, updated_at) SELECT 'u' || i, 'seeded_' || i, ${now}, ${now} FROM k`);
    // Ten stories per producer over the last 36 hours (so a third have expired); the fan follows 200 of them.
    await db.run(sql`
      WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 20000)
      INSERT INTO stories (id, user_id, status, original_key, original_format, original_bytes, audio_key, ogg_key, peaks_key,
        waveform_key, waveform_png_key, created_at, expires_at, updated_at)
      SELECT 's' || i, 'u' || (1 + i % 2000), 'ready', 'stories/x/y/o.wav', 'wav', 1, 'stories/x/y/a.mp3', 'stories/x/y/a.ogg',
        'stories/x/y/p.json', 'stories/x/y/w.svg', 'stories/x/y/w.png', ${now} - i * 6480, ${now} - i * 6480 + 86400000, ${now} FROM k`);
    await db.run(sql`
      WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 200)
      INSERT INTO follows (follower_id, followee_id, created_at) SELECT ${fan.id}, 'u' || (i * 10), ${now} FROM k`);
    await db.run(sql`
      WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 20000)
      INSERT INTO story_views (story_id, viewer_id, viewed_at) SELECT 's' || i, 'u' || (1 + (i * 7) % 2000), ${now} FROM k`);
    await db.run(sql`INSERT INTO follows (follower_id, followee_id, created_at) VALUES (${fan.id}, ${author.id}, ${now})`);
    await db.run(sql`
      INSERT INTO stories (id, user_id, status, original_key, original_format, original_bytes, audio_key, ogg_key, peaks_key,
        waveform_key, waveform_png_key, created_at, expires_at, updated_at)
      VALUES (${story}, ${author.id}, 'ready', 'stories/x/y/o.wav', 'wav', 1, 'stories/x/y/a.mp3', 'stories/x/y/a.ogg', 'stories/x/y/p.json',
        'stories/x/y/w.svg', 'stories/x/y/w.png', ${now}, ${now + 86_400_000}, ${now})`);
    await db.run(sql`INSERT INTO story_highlights (id, user_id, name, created_at, updated_at) VALUES (${highlight}, ${author.id}, 'Jams', ${now}, ${now})`);
    await db.run(sql`INSERT INTO highlight_stories (highlight_id, story_id, added_at) VALUES (${highlight}, ${story}, ${now})`);
  }, 60_000);
  afterAll(() => env.close());

  test("every statement of the stories paths is an index search", async () => {
    const api = (path: string, who: Producer, init: Parameters<TestEnv["request"]>[1] = {}) => env.request(`/api/v1${path}`, { token: who.token, ...init });
    const reads = await capturedReads(client, async () => {
      const feed = await expectOk(await api("/stories", fan));
      expect(feed.groups.length).toBeGreaterThan(100);
      await expectOk(await api(`/users/${author.id}/stories`, fan));
      await expectOk(await api(`/users/${author.id}/stories`, author));
      await expectOk(await api(`/stories/${story}`, fan));
      await expectOk(await api(`/stories/${story}/view`, fan, { method: "POST" }));
      await expectOk(await api(`/stories/${story}/views?limit=50`, author));
      await expectOk(await api(`/users/${author.id}/highlights`, fan));
      await expectOk(await api(`/highlights/${highlight}`, fan));
      await expectOk(await api(`/stories/${story}/download`, fan));
    });
    expect(reads.length).toBeGreaterThan(6);
    for (const text of reads) expect({ text, scans: tableScans(client, text, tables) }).toEqual({ text, scans: [] });
    // A producer is found by their id: never through users_approval_idx, which is every approved member.
    for (const text of reads) {
      const plan = (client.query(`EXPLAIN QUERY PLAN ${text}`).all() as { detail: string }[]).map((r) => r.detail);
      expect({ text, byOtherThanId: plan.filter((d) => /^SEARCH users\b/.test(d) && !/\(id=\?\)$/.test(d)) }).toEqual({ text, byOtherThanId: [] });
    }
  });
});

// Query plans of the Stream.io backfill on bun:sqlite (src/integrations/stream-backfill.ts), on a seeded community big
// enough for SQLite to plan as in production (2,000 users, 20,000 ready loops, 20,000 follows, 20,000 reactions): a
// whole backfill runs against the Stream stand-in while every statement it prepares is captured. Each phase reads
// its table in primary-key order, a range per batch: no read scans a table (but a phase's first batch, which walks the
// key from its start and stops at the batch size), searches ready loops by status alone or sorts its rows (which would
// make each of thousands of batches read the whole table).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { streamClient } from "../../src/integrations/stream.ts";
import { currentBackfill, runBackfill } from "../../src/integrations/stream-backfill.ts";
import { seedCommunity } from "../support/community.ts";
import { createTestEnv, type TestEnv } from "../support/deps.ts";
import { capturedReads, planClient, tableScans } from "../support/query-plan.ts";
import { type FakeStream, startFakeStream } from "../support/stream-server.ts";

const API_KEY = "plan-key";
const SECRET = "plan-secret-0123456789abcdefghijklmnopqrstuvwxyz";

describe("stream backfill query plans on sqlite", () => {
  let env: TestEnv;
  let fake: FakeStream;
  beforeAll(async () => {
    fake = await startFakeStream({ apiKey: API_KEY, secret: SECRET });
    env = await createTestEnv("sqlite", { STREAM_API_KEY: API_KEY, STREAM_API_SECRET: SECRET, STREAM_BASE_URL: fake.url, PUBLIC_URL: "http://localhost" });
    await seedCommunity(env.deps.database, {
      users: 2000,
      posts: 20_000,
      follows: 20_000,
      reactions: 20_000,
      days: 60,
      benchFollows: 100,
      now: env.clock.now(),
      benchPasswordHash: "not used",
    });
  }, 120_000);
  afterAll(async () => {
    await env.close();
    await fake.stop();
  });

  test("every batch reads a key range in order: no table scan, no search by status alone, no sort", async () => {
    const { client, tables } = planClient(env);
    await currentBackfill(env.deps, { restart: true });
    let done: Awaited<ReturnType<typeof runBackfill>> | undefined;
    const reads = await capturedReads(client, async () => {
      done = await runBackfill(env.deps, streamClient(env.deps.config)!);
    });
    expect(done).toMatchObject({ phase: "done", sent: { users: 2000, posts: 20_000, follows: 20_000 } });
    expect(done!.sent.reactions).toBeGreaterThan(15_000); // the seed draws distinct pairs
    expect(fake.activities.size).toBe(20_000);
    // Per phase: its first batch, the next ones (after a key), the re-read of a batch's range. (Counting each phase's
    // objects for progress reads everything once; the position is one row of meta.)
    const batchReads = reads.filter((text) => !/count\(\*\)|from "meta"/i.test(text));
    expect(batchReads.length).toBe(12);
    for (const text of batchReads) {
      const plan = (
        client.query(`EXPLAIN QUERY PLAN ${text}`).all(
          ...text
            .split("?")
            .slice(1)
            .map(() => null),
        ) as { detail: string }[]
      ).map((r) => r.detail);
      // A phase's first batch walks the primary key from its start, cut at the batch size by LIMIT.
      const first = !/[<>]=? \(\?/.test(text) && !/ > \?/.test(text);
      const scans = tableScans(client, text, tables).filter((d) => !(first && /^SCAN \S+ USING (COVERING )?INDEX sqlite_autoindex_\w+_1$/.test(d)));
      expect({ text, scans, sorts: plan.filter((d) => d.includes("TEMP B-TREE")) }).toEqual({ text, scans: [], sorts: [] });
    }
  }, 120_000);
});

// The exact read cache (src/db/read-cache.ts) and the statement cache of the bun:sqlite client (src/db/client.ts),
// on a real SQLite file and a real sqld. What must hold: a value is reused only while nothing at all was written,
// whether the write came from this connection, from another connection to the same file (a second server, the
// CLI), or landed while the value was being read; on libSQL nothing is reused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database as SQLite } from "bun:sqlite";
import { eq, sql } from "drizzle-orm";
import { join } from "node:path";
import { STATEMENT_CACHE_SIZE } from "../src/db/client.ts";
import { readCache } from "../src/db/read-cache.ts";
import { meta } from "../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "./support/deps.ts";

/** A read that counts how often it really ran and returns the current value of meta[key]. */
function counted(env: TestEnv, key: string) {
  const read = async () => {
    read.calls++;
    const [row] = await env.deps.database.db.select().from(meta).where(eq(meta.key, key));
    return row?.value ?? null;
  };
  read.calls = 0;
  return read;
}

const setMeta = (env: TestEnv, key: string, value: string) =>
  env.deps.database.db.insert(meta).values({ key, value, updatedAt: 1 }).onConflictDoUpdate({ target: meta.key, set: { value } });

for (const driver of DRIVERS) {
  describe(`read cache on ${driver}`, () => {
    let env: TestEnv;
    beforeAll(async () => {
      env = await createTestEnv(driver);
    });
    afterAll(() => env.close());

    test(driver === "sqlite" ? "a value is read once while nothing changes" : "nothing is reused: every get reads", async () => {
      const cache = readCache<string | null>(env.deps.database, 8);
      const read = counted(env, "k1");
      await setMeta(env, "k1", "one");
      for (let i = 0; i < 3; i++) expect(await cache.get("k1", read)).toBe("one");
      expect(read.calls).toBe(driver === "sqlite" ? 1 : 3);
    });

    test("a write on this connection is seen by the next get", async () => {
      const cache = readCache<string | null>(env.deps.database, 8);
      const read = counted(env, "k2");
      expect(await cache.get("k2", read)).toBeNull(); // a miss is a value too, and kept as one
      expect(await cache.get("k2", read)).toBeNull();
      await setMeta(env, "k2", "two");
      expect(await cache.get("k2", read)).toBe("two");
      // Any write empties the cache, even one to an unrelated row.
      await setMeta(env, "unrelated", String(Math.random()));
      expect(await cache.get("k2", read)).toBe("two");
      expect(read.calls).toBe(driver === "sqlite" ? 3 : 4);
    });

    test("a value read while a write transaction is open is not kept (it may roll back)", async () => {
      const cache = readCache<string | null>(env.deps.database, 8);
      const read = counted(env, "k3");
      await expect(
        env.deps.database.tx(async (tx) => {
          await tx.insert(meta).values({ key: "k3", value: "ghost", updatedAt: 1 });
          // On bun:sqlite this read shares the one connection, so it sees the uncommitted row.
          if (driver === "sqlite") expect(await cache.get("k3", read)).toBe("ghost");
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(await cache.get("k3", read)).toBeNull();
    });

    test("a write that lands while the value is being read: the older value is never handed out", async () => {
      const cache = readCache<string | null>(env.deps.database, 8);
      await setMeta(env, "k4", "before");
      const inner = counted(env, "k4");
      const racing = async () => {
        const [row] = await env.deps.database.db.select().from(meta).where(eq(meta.key, "k4"));
        // Meanwhile another request writes, then reads the same key through the cache.
        await setMeta(env, "k4", "after");
        expect(await cache.get("k4", inner)).toBe("after");
        return row!.value;
      };
      expect(await cache.get("k4", racing)).toBe("before"); // this request's own (older) read
      const read = counted(env, "k4");
      expect(await cache.get("k4", read)).toBe("after");
      expect(await cache.get("k4", racing)).toBe("after"); // and never "before" again
      if (driver === "sqlite") expect([inner.calls, read.calls]).toEqual([1, 0]);
    });

    test("gets that miss together share one read, unless a write came between them", async () => {
      const cache = readCache<string | null>(env.deps.database, 8);
      await setMeta(env, "k6", "six");
      const read = counted(env, "k6");
      const together = await Promise.all([cache.get("k6", read), cache.get("k6", read), cache.get("k6", read)]);
      expect(together).toEqual(["six", "six", "six"]);
      expect(read.calls).toBe(driver === "sqlite" ? 1 : 3);

      await setMeta(env, "unrelated", String(Math.random())); // empties the cache
      let hasRead!: () => void;
      let release!: () => void;
      const read1 = new Promise<void>((r) => (hasRead = r));
      const gate = new Promise<void>((r) => (release = r));
      const slow = async () => {
        const [row] = await env.deps.database.db.select().from(meta).where(eq(meta.key, "k6"));
        hasRead();
        await gate; // still in flight...
        return row!.value;
      };
      const first = cache.get("k6", slow);
      await read1;
      await setMeta(env, "k6", "seven"); // ...when this write lands
      const second = cache.get("k6", read); // must not wait for the older read
      release();
      expect([await first, await second]).toEqual(["six", "seven"]);
      expect(await cache.get("k6", read)).toBe("seven");
    });

    test("a failed read fails the gets that shared it, and the next get reads again", async () => {
      const cache = readCache<string | null>(env.deps.database, 8);
      let calls = 0;
      const failing = async () => {
        calls++;
        await Bun.sleep(1);
        throw new Error("disk on fire");
      };
      const results = await Promise.allSettled([cache.get("k7", failing), cache.get("k7", failing)]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
      expect(calls).toBe(driver === "sqlite" ? 1 : 2);
      expect(await cache.get("k7", counted(env, "k7"))).toBeNull();
    });

    test("it holds at most its size: the least recently used value goes first", async () => {
      const cache = readCache<string | null>(env.deps.database, 2);
      const reads = { a: counted(env, "a"), b: counted(env, "b"), c: counted(env, "c") };
      await cache.get("a", reads.a);
      await cache.get("b", reads.b);
      await cache.get("a", reads.a); // a is now the most recent
      await cache.get("c", reads.c); // b goes
      await cache.get("a", reads.a);
      await cache.get("b", reads.b);
      const calls = [reads.a.calls, reads.b.calls, reads.c.calls];
      expect(calls).toEqual(driver === "sqlite" ? [1, 2, 1] : [3, 2, 1]);
    });

    if (driver === "sqlite") {
      test("a commit from another connection to the same file (a second server, the CLI) is seen at once", async () => {
        const cache = readCache<string | null>(env.deps.database, 8);
        const read = counted(env, "k5");
        await setMeta(env, "k5", "mine");
        expect(await cache.get("k5", read)).toBe("mine");
        const other = new SQLite(join(env.deps.config.DATA_DIR, "sidechain.db"));
        try {
          other.exec("PRAGMA busy_timeout = 5000");
          other.query("UPDATE meta SET value = 'theirs' WHERE key = 'k5'").run();
        } finally {
          other.close();
        }
        expect(await cache.get("k5", read)).toBe("theirs");
        expect(read.calls).toBe(2);
      });

      test("the connection compiles each SQL text once and keeps a bounded number of them", async () => {
        const client = (env.deps.database.db as unknown as { $client: SQLite }).$client;
        const text = "SELECT value FROM meta WHERE key = ?";
        expect(client.prepare(text)).toBe(client.prepare(text));
        const first = client.prepare("SELECT 'first' AS v");
        for (let i = 0; i < STATEMENT_CACHE_SIZE; i++) client.prepare(`SELECT ${i} AS v`);
        // Dropped from the cache, yet still usable by whoever holds it (drizzle's prepared statements do).
        expect(client.prepare("SELECT 'first' AS v")).not.toBe(first);
        expect(first.get()).toEqual({ v: "first" });
        // Statements with bound parameters given at prepare time are not shared.
        expect(client.prepare(text, ["x"])).not.toBe(client.prepare(text, ["x"]));
        // The drizzle API still answers through the cached statements.
        expect((await env.deps.database.db.all<{ n: number }>(sql`SELECT 1 + 1 AS n`))[0]!.n).toBe(2);
      });
    }
  });
}

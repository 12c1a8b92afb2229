// The migration and query tests, run against bun:sqlite and against a real libSQL server (sqld).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../src/db/client.ts";
import { applyMigrations, MIGRATIONS } from "../src/db/migrate.ts";
import { meta } from "../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "./support/deps.ts";

for (const driver of DRIVERS) {
  describe(`database on ${driver}`, () => {
    let env: TestEnv;
    beforeAll(async () => {
      env = await createTestEnv(driver);
    });
    afterAll(() => env.close());

    test("every embedded migration is applied at start, and applying again changes nothing", async () => {
      expect(MIGRATIONS.length).toBeGreaterThan(0);
      const rows = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM __drizzle_migrations`);
      expect(Number(rows[0]!.n)).toBe(MIGRATIONS.length);
      expect(await applyMigrations(env.deps.database)).toBe(0);
    });

    test("the installation id is written once", async () => {
      const rows = await env.deps.database.db.select().from(meta).where(eq(meta.key, "installation_id"));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.value).toMatch(/^[0-9a-f-]{36}$/);
    });

    test("a transaction commits all its writes together", async () => {
      const { database } = env.deps;
      await database.tx(async (tx) => {
        await tx.insert(meta).values({ key: "a", value: "1", updatedAt: 1 });
        await tx.insert(meta).values({ key: "b", value: "2", updatedAt: 2 });
      });
      const rows = await database.db.select().from(meta).where(sql`${meta.key} IN ('a','b')`);
      expect(rows.map((r) => r.value).sort()).toEqual(["1", "2"]);
    });

    test("a transaction that throws leaves nothing behind", async () => {
      const { database } = env.deps;
      await expect(
        database.tx(async (tx) => {
          await tx.insert(meta).values({ key: "c", value: "3", updatedAt: 3 });
          await tx.insert(meta).values({ key: "a", value: "dup", updatedAt: 3 }); // primary key violation
        }),
      ).rejects.toThrow();
      const rows = await database.db.select().from(meta).where(eq(meta.key, "c"));
      expect(rows).toHaveLength(0);
    });

    test("concurrent transactions do not lose updates", async () => {
      const { database } = env.deps;
      await database.db.insert(meta).values({ key: "counter", value: "0", updatedAt: 0 });
      await Promise.all(
        Array.from({ length: 20 }, () =>
          database.tx(async (tx) => {
            const [row] = await tx.select().from(meta).where(eq(meta.key, "counter"));
            await tx
              .update(meta)
              .set({ value: String(Number(row!.value) + 1) })
              .where(eq(meta.key, "counter"));
          }),
        ),
      );
      const [row] = await database.db.select().from(meta).where(eq(meta.key, "counter"));
      expect(row!.value).toBe("20");
    });

    // One write path (docs/architecture.md, Database): a write made on database.db by another task never becomes
    // part of a transaction it did not open, and code inside a transaction may use database.db and database.tx.
    const deferred = () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    };
    const keys = async (...names: string[]) =>
      (await env.deps.database.db.select({ key: meta.key }).from(meta).where(inArray(meta.key, names))).map((r) => r.key).sort();
    /** A transaction of its own task: writes `key`, stays open until finish(), then runs `atEnd` (throw to roll back). */
    const holdOpen = async (key: string, atEnd: (tx: Db) => Promise<void> = async () => undefined) => {
      const opened = deferred();
      const gate = deferred();
      const done = env.deps.database.tx(async (tx) => {
        await tx.insert(meta).values({ key, value: "1", updatedAt: 1 });
        opened.resolve();
        await gate.promise;
        await atEnd(tx);
      });
      await opened.promise;
      return { finish: () => (gate.resolve(), done) };
    };

    test("a write by another task while a transaction is open waits for it, and survives its rollback", async () => {
      const order: string[] = [];
      let seenInside: string[] = [];
      const a = await holdOpen("tx-a", async (tx) => {
        seenInside = (
          await tx
            .select({ key: meta.key })
            .from(meta)
            .where(inArray(meta.key, ["tx-a", "other-b"]))
        ).map((r) => r.key);
        order.push("a ends");
        throw new Error("A fails");
      });
      const b = (async () => {
        await env.deps.database.db.insert(meta).values({ key: "other-b", value: "b", updatedAt: 2 });
        order.push("b written");
      })();
      for (let i = 0; i < 5; i++) await Bun.sleep(0);
      expect(order).toEqual([]); // B's write waits while A is open
      await expect(a.finish()).rejects.toThrow("A fails");
      await b;
      expect(order).toEqual(["a ends", "b written"]);
      expect(seenInside).toEqual(["tx-a"]); // A never saw (nor took in) B's write
      expect(await keys("tx-a", "other-b")).toEqual(["other-b"]);
    });

    test("reads by another task do not wait for an open transaction", async () => {
      const a = await holdOpen("read-while-open");
      expect(await keys("installation_id")).toEqual(["installation_id"]); // answered while A is still open
      await a.finish();
    });

    test("code inside a transaction may use database.db and database.tx: no deadlock, one outcome", async () => {
      const { database } = env.deps;
      const body = async (fail: boolean, p: string) => {
        await database.db.insert(meta).values({ key: `${p}-db`, value: "1", updatedAt: 1 });
        await database.tx((inner) => inner.insert(meta).values({ key: `${p}-nested`, value: "1", updatedAt: 1 }));
        // A nested transaction that throws undoes only its own writes.
        await expect(
          database.tx(async (inner) => {
            await inner.insert(meta).values({ key: `${p}-undone`, value: "1", updatedAt: 1 });
            throw new Error("inner fails");
          }),
        ).rejects.toThrow("inner fails");
        expect(await keys(`${p}-db`, `${p}-nested`, `${p}-undone`)).toEqual([`${p}-db`, `${p}-nested`]);
        if (fail) throw new Error("outer fails");
      };
      await expect(database.tx(() => body(true, "rolled"))).rejects.toThrow("outer fails");
      expect(await keys("rolled-db", "rolled-nested", "rolled-undone")).toEqual([]);
      await database.tx(() => body(false, "kept"));
      expect(await keys("kept-db", "kept-nested", "kept-undone")).toEqual(["kept-db", "kept-nested"]);
    }, 10_000);

    test("work a transaction left behind (a continuation, a timer) does not join a later transaction", async () => {
      const { database } = env.deps;
      const fire = deferred();
      const timerFired = deferred();
      let late!: Promise<unknown>;
      let timerLate!: Promise<unknown>;
      await database.tx(async (tx) => {
        late = fire.promise.then(() => database.db.insert(meta).values({ key: "late-write", value: "1", updatedAt: 1 }));
        setTimeout(() => {
          timerLate = fire.promise.then(() => database.db.insert(meta).values({ key: "timer-write", value: "1", updatedAt: 1 }));
          timerFired.resolve();
        }, 0);
        await tx.insert(meta).values({ key: "first-tx", value: "1", updatedAt: 1 });
      });
      await timerFired.promise;
      const c = await holdOpen("second-tx", async () => {
        throw new Error("C fails");
      });
      fire.resolve();
      for (let i = 0; i < 5; i++) await Bun.sleep(0);
      await expect(c.finish()).rejects.toThrow("C fails");
      await Promise.all([late, timerLate]);
      expect(await keys("late-write", "timer-write", "first-tx", "second-tx")).toEqual(["first-tx", "late-write", "timer-write"]);
    });

    test("afterCommit hooks run once the transaction committed, never after a rollback", async () => {
      const { database } = env.deps;
      const seen: string[] = [];
      const result = await database.tx(
        async (tx) => {
          await tx.insert(meta).values({ key: "hooked", value: "1", updatedAt: 1 });
          database.afterCommit(() => void seen.push("hook"));
          await database.tx(async () => database.afterCommit(() => void seen.push("nested hook")));
          await database
            .tx(async () => {
              database.afterCommit(() => void seen.push("rolled-back nested hook"));
              throw new Error("inner fails");
            })
            .catch(() => undefined);
          expect(seen).toEqual([]);
          return 42;
        },
        { afterCommit: (r) => void seen.push(`option ${r}`) },
      );
      expect(result).toBe(42);
      expect(seen).toEqual(["hook", "nested hook", "option 42"]);
      await expect(
        database.tx(
          async () => {
            database.afterCommit(() => void seen.push("never"));
            throw new Error("rolled back");
          },
          { afterCommit: () => void seen.push("never either") },
        ),
      ).rejects.toThrow("rolled back");
      database.afterCommit(() => void seen.push("outside a transaction: at once"));
      expect(seen).toEqual(["hook", "nested hook", "option 42", "outside a transaction: at once"]);
    });

    test("a failing afterCommit hook is logged and cannot undo the commit", async () => {
      const { database } = env.deps;
      await database.tx(async (tx) => {
        await tx.insert(meta).values({ key: "hook-fails", value: "1", updatedAt: 1 });
        database.afterCommit(() => {
          throw new Error("hook threw");
        });
        database.afterCommit(() => Promise.reject(new Error("hook rejected")));
      });
      await Bun.sleep(0);
      expect(await keys("hook-fails")).toEqual(["hook-fails"]);
      const failures = env.logs.filter((l) => l.msg === "afterCommit hook failed").map((l) => l.error);
      expect(failures).toEqual(["Error: hook threw", "Error: hook rejected"]);
    });

    test("the database answers the readiness ping", async () => {
      await env.deps.database.ping();
      const res = await env.request("/readyz");
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok", checks: { audio: "ok", database: "ok", data_dir: "ok", storage: "ok" } });
    });
  });
}

test("SQLite connections use WAL, NORMAL sync, a busy timeout and foreign keys", async () => {
  const env = await createTestEnv("sqlite");
  try {
    const pragma = async (name: string) => Object.values((await env.deps.database.db.all<Record<string, unknown>>(sql.raw(`PRAGMA ${name}`)))[0]!)[0];
    expect(await pragma("journal_mode")).toBe("wal");
    expect(await pragma("synchronous")).toBe(1); // NORMAL
    expect(Number(await pragma("busy_timeout"))).toBeGreaterThan(0);
    expect(await pragma("foreign_keys")).toBe(1);
  } finally {
    await env.close();
  }
});

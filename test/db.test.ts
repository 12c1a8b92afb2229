// The migration and query tests, run against bun:sqlite and against a real libSQL server (sqld).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
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
            await tx.update(meta).set({ value: String(Number(row!.value) + 1) }).where(eq(meta.key, "counter"));
          }),
        ),
      );
      const [row] = await database.db.select().from(meta).where(eq(meta.key, "counter"));
      expect(row!.value).toBe("20");
    });

    test("the database answers the readiness ping", async () => {
      await env.deps.database.ping();
      const res = await env.request("/readyz");
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok", checks: { database: "ok", data_dir: "ok", storage: "ok" } });
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

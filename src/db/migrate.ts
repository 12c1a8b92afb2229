// Applies the embedded migrations on both drivers with one code path (drizzle's own migrators differ per driver
// and read files from disk, which the compiled binary does not have). Each migration runs in a write transaction
// that re-checks what is applied, so two instances starting at once apply it exactly once.
import { sql } from "drizzle-orm";
import { embeddedMigrations } from "./migrations.macro.ts" with { type: "macro" };
import type { Database } from "./client.ts";

export type Migration = { sql: string[]; folderMillis: number; hash: string };

export const MIGRATIONS: Migration[] = embeddedMigrations();
const TABLE = "__drizzle_migrations"; // drizzle-kit's name, so its tooling recognises the database

export async function applyMigrations(database: Database, migrations: Migration[] = MIGRATIONS): Promise<number> {
  await database.db.run(sql.raw(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INTEGER PRIMARY KEY, hash TEXT NOT NULL, created_at NUMERIC)`));
  let applied = 0;
  for (const m of migrations) {
    const did = await database.tx(async (tx) => {
      const done = await tx.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${TABLE} WHERE created_at = ${m.folderMillis}`));
      if (Number(done[0]?.n) > 0) return false;
      for (const stmt of m.sql) if (stmt.trim()) await tx.run(sql.raw(stmt));
      await tx.run(sql`INSERT INTO ${sql.identifier(TABLE)} (hash, created_at) VALUES (${m.hash}, ${m.folderMillis})`);
      return true;
    });
    if (did) applied++;
  }
  return applied;
}

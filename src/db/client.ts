// Opens the database: a SQLite file through bun:sqlite (default), or a libSQL server (sqld/Turso) through the
// web client when DATABASE_URL says so. Both give the same drizzle API, so features write one set of queries.
import { Database as SQLite, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBun } from "drizzle-orm/bun-sqlite";
import { drizzle as drizzleLibsql } from "drizzle-orm/libsql/web";
import { createClient } from "@libsql/client/web";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import { join } from "node:path";
import * as schema from "./schema.ts";
import type { Config } from "../config.ts";

/** What feature code queries. Always `await` queries: on bun:sqlite they run synchronously, on libSQL remotely. */
export type Db = BaseSQLiteDatabase<"sync" | "async", unknown, typeof schema>;

export interface Database {
  readonly kind: "sqlite" | "libsql";
  readonly db: Db;
  /**
   * Runs `fn` as one write transaction: committed when it resolves, rolled back when it throws. Writes that
   * belong together go through here. Keep `fn` to database work (no network calls inside).
   */
  tx<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

type DbConfig = Pick<Config, "DATA_DIR" | "DATABASE_URL" | "DATABASE_AUTH_TOKEN" | "DB_BUSY_TIMEOUT_MS">;

export function openDatabase(config: DbConfig): Database {
  const url = config.DATABASE_URL;
  if (url && !url.startsWith("file:")) return openLibsql(url, config.DATABASE_AUTH_TOKEN);
  const path = url ? url.slice("file:".length) : join(config.DATA_DIR, "sidechain.db");
  return openSqlite(path, config.DB_BUSY_TIMEOUT_MS);
}

/**
 * bun:sqlite with compiled statements kept per SQL text. drizzle calls prepare() for every query it runs, and
 * compiling costs about as much as running a small query; the text of a drizzle query depends only on its shape
 * (values are bound), so the same few hundred texts recur. Least recently used texts are dropped from the map
 * beyond STATEMENT_CACHE_SIZE, never finalized here: a statement someone still holds (drizzle's .prepare()) stays
 * valid, and the garbage collector finalizes the rest.
 */
export const STATEMENT_CACHE_SIZE = 512;
class StatementCache extends SQLite {
  readonly #statements = new Map<string, Statement>();
  override prepare<R, P extends SQLQueryBindings | SQLQueryBindings[]>(text: string, params?: P): Statement<R, P extends any[] ? P : [P]> {
    if (params !== undefined) return super.prepare(text, params);
    let st = this.#statements.get(text);
    if (st) {
      this.#statements.delete(text);
    } else {
      st = super.prepare(text);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.delete(this.#statements.keys().next().value!);
    }
    this.#statements.set(text, st);
    return st as never;
  }
}

function openSqlite(path: string, busyTimeoutMs: number): Database {
  const client = new StatementCache(path, { create: true, strict: true });
  // busy_timeout first: switching to WAL needs a lock another process may hold.
  client.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  client.exec("PRAGMA journal_mode = WAL");
  client.exec("PRAGMA synchronous = NORMAL");
  client.exec("PRAGMA foreign_keys = ON");
  const db = drizzleBun({ client, schema }) as unknown as Db;

  // drizzle's bun:sqlite transaction() only takes synchronous callbacks. Our callbacks are async (the same code
  // runs on libSQL), so we open the transaction ourselves on the single connection and let one transaction at a
  // time hold it: the chain below is a FIFO mutex. BEGIN IMMEDIATE takes the write lock up front, so a second
  // process on the same file waits (busy_timeout) instead of failing half-way.
  let chain: Promise<unknown> = Promise.resolve();
  const tx = <T>(fn: (tx: Db) => Promise<T>): Promise<T> => {
    const run = async () => {
      client.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(db);
        client.exec("COMMIT");
        return result;
      } catch (err) {
        if (client.inTransaction) client.exec("ROLLBACK");
        throw err;
      }
    };
    const result = chain.then(run, run);
    chain = result.catch(() => undefined);
    return result;
  };

  return {
    kind: "sqlite",
    db,
    tx,
    async ping() {
      client.query("SELECT 1").get();
    },
    async close() {
      await chain;
      client.close();
    },
  };
}

function openLibsql(url: string, authToken: string | undefined): Database {
  const client = createClient({ url, authToken });
  const db = drizzleLibsql({ client, schema }) as unknown as Db;
  const libsqlDb = db as unknown as { transaction<T>(fn: (tx: Db) => Promise<T>, cfg?: { behavior: "immediate" }): Promise<T> };
  return {
    kind: "libsql",
    db,
    tx: (fn) => libsqlDb.transaction(fn, { behavior: "immediate" }),
    async ping() {
      await db.run(sql`SELECT 1`);
    },
    async close() {
      client.close();
    },
  };
}

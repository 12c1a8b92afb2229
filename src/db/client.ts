// Opens the database: a SQLite file through bun:sqlite (default), or a libSQL server (sqld/Turso) through the
// web client when DATABASE_URL says so. Both give the same drizzle API, so features write one set of queries.
import { Database as SQLite, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { AsyncLocalStorage } from "node:async_hooks";
import { sql } from "drizzle-orm";
import { drizzle as drizzleBun } from "drizzle-orm/bun-sqlite";
import { drizzle as drizzleLibsql } from "drizzle-orm/libsql/web";
import { createClient } from "@libsql/client/web";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import { join, resolve } from "node:path";
import * as schema from "./schema.ts";
import type { Config } from "../config.ts";
import { errorFields } from "../log.ts";
import { Lru } from "../lib/lru.ts";

/** What feature code queries. Always `await` queries: on bun:sqlite they run synchronously, on libSQL remotely. */
export type Db = BaseSQLiteDatabase<"sync" | "async", unknown, typeof schema>;

export type TxOptions<T> = {
  /** Runs once the transaction has committed (never after a rollback), with fn's result; see Database.afterCommit. */
  afterCommit?: (result: T) => unknown;
};

export interface Database {
  readonly kind: "sqlite" | "libsql";
  /**
   * Queries outside a transaction. Every write made here is its own atomic statement: on bun:sqlite, while
   * another task's transaction holds the connection, it waits for that transaction to end instead of becoming part
   * of it. Code running inside a transaction (fn of tx and what it awaits) reaches that transaction through this
   * handle too, so helpers that take no `tx` argument neither deadlock nor escape it.
   */
  readonly db: Db;
  /**
   * Runs `fn` as one write transaction: committed when it resolves, rolled back when it throws. Writes that
   * belong together go through here. Keep `fn` to database work (no network calls inside). Called inside
   * another transaction, it runs as a savepoint of it (rolled back alone if it throws).
   */
  tx<T>(fn: (tx: Db) => Promise<T>, opts?: TxOptions<T>): Promise<T>;
  /**
   * Runs `hook` once the transaction the caller is in has committed (dropped if it rolls back), or at once when
   * the caller is in none. For events about a change (WebSocket notices...) that must not announce a change that
   * was rolled back. A hook that throws or rejects is logged; it cannot undo the commit.
   */
  afterCommit(hook: () => unknown): void;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

type DbConfig = Pick<Config, "DATA_DIR" | "DATABASE_URL" | "DATABASE_AUTH_TOKEN" | "DB_BUSY_TIMEOUT_MS"> & Partial<Pick<Config, "DB_CACHE_MB">>;

/** Where afterCommit hooks that fail are reported (the server's logger; the console otherwise). */
type HookLog = { error(msg: string, fields?: Record<string, unknown>): void };
const consoleLog: HookLog = { error: (msg, fields) => console.error(msg, fields) };

export function openDatabase(config: DbConfig, log: HookLog = consoleLog): Database {
  const path = sqlitePath(config);
  if (!path) return openLibsql(config.DATABASE_URL!, config.DATABASE_AUTH_TOKEN, log);
  return openSqlite(path, config.DB_BUSY_TIMEOUT_MS, config.DB_CACHE_MB ?? DEFAULT_CACHE_MB, log);
}

/** The SQLite file the configuration names (DATA_DIR/sidechain.db, or DATABASE_URL's file:), or null for a libSQL server. */
export function sqlitePath(config: Pick<Config, "DATA_DIR" | "DATABASE_URL">): string | null {
  const url = config.DATABASE_URL;
  if (url && !url.startsWith("file:")) return null;
  return resolve(url ? url.slice("file:".length) : join(config.DATA_DIR, "sidechain.db"));
}

// ---------------------------------------------------------------------------------------------------------------
// Transactions and the one write path (docs/architecture.md, Database)
//
// Which transaction a piece of code belongs to is carried by an AsyncLocalStorage: tx() runs fn inside a scope,
// and everything fn starts (awaits, promise continuations, timers) inherits it. A scope is "open" from the start
// of fn until fn settles; work fn left behind (a timer firing later) finds it closed and behaves like any other
// task. Scopes nest (savepoints); the parent chain lets a closed inner scope still reach an open outer one.

type Scope = {
  owner: object;
  /** The transaction's handle: the raw connection on bun:sqlite, drizzle's transaction on libSQL. */
  handle: Db;
  open: boolean;
  parent: Scope | undefined;
  hooks: Array<() => unknown>;
  /** Savepoints taken inside this scope run one at a time. */
  nested: Promise<unknown>;
};
const scopes = new AsyncLocalStorage<Scope>();

/** The innermost open transaction of `owner` the calling code runs in. */
function openScope(owner: object): Scope | undefined {
  for (let s = scopes.getStore(); s; s = s.parent) if (s.owner === owner && s.open) return s;
  return undefined;
}

function runHooks(hooks: Array<() => unknown>, log: HookLog) {
  for (const hook of hooks) {
    try {
      const r = hook();
      if (r instanceof Promise) r.catch((err) => log.error("afterCommit hook failed", errorFields(err, { stack: true })));
    } catch (err) {
      log.error("afterCommit hook failed", errorFields(err, { stack: true }));
    }
  }
}

function afterCommitOf(owner: object, log: HookLog) {
  return (hook: () => unknown) => {
    const scope = openScope(owner);
    if (scope) scope.hooks.push(hook);
    else runHooks([hook], log);
  };
}

/**
 * Runs `fn` (and what it starts) as belonging to no transaction, wherever it is called from: for work that is
 * triggered inside a transaction but is not part of it, like a worker loop woken by an enqueue.
 */
export function outsideTransactions<T>(fn: () => T): T {
  return scopes.exit(fn);
}

/** Runs fn in a new scope; the scope closes when fn settles. */
async function inScope<T>(scope: Scope, fn: (tx: Db) => Promise<T>): Promise<T> {
  try {
    return await scopes.run(scope, () => fn(scope.handle));
  } finally {
    scope.open = false;
  }
}

const newScope = (owner: object, handle: Db, parent?: Scope): Scope => ({ owner, handle, open: true, parent, hooks: [], nested: Promise.resolve() });

/**
 * A transaction inside an open one: a savepoint, taken one at a time per parent. Its hooks join the parent's when
 * it succeeds (they run when the outermost transaction commits) and are dropped when it rolls back.
 */
function nestedTx<T>(parent: Scope, fn: (tx: Db) => Promise<T>, opts: TxOptions<T> | undefined, savepoint: (body: (handle: Db) => Promise<T>) => Promise<T>) {
  const run = async () => {
    let scope!: Scope;
    const result = await savepoint((handle) => inScope((scope = newScope(parent.owner, handle, parent)), fn));
    parent.hooks.push(...scope.hooks);
    if (opts?.afterCommit) parent.hooks.push(() => opts.afterCommit!(result));
    return result;
  };
  const result = parent.nested.then(run);
  parent.nested = result.catch(() => undefined);
  return result;
}

type QueryMeta = { type?: string } | undefined;
type Prepared = Record<"run" | "all" | "get" | "values", (params?: unknown) => unknown>;
/** drizzle's session: prepareQuery(query, fields, executeMethod, isResponseInArrayMode, customResultMapper, queryMetadata, cacheConfig). */
type Session = { prepareQuery(query: { sql: string }, ...rest: unknown[]): Prepared };
const QUERY_METADATA_ARG = 5;
const METHODS = ["run", "all", "get", "values"] as const;
/** Statements that only read. Anything else (and anything unsure) counts as a write. */
const READ_SQL = /^\s*(?:select|explain)\b|^\s*pragma\s+[\w.]+\s*(?:\([^)]*\))?\s*;?\s*$/i;
/** drizzle's builders say what they are (select, insert, update, delete); raw `sql` and relational queries do not. */
const isRead = (query: { sql: string }, meta: QueryMeta) => (meta?.type ? meta.type === "select" : READ_SQL.test(query.sql));

type Route = (query: { args: unknown[]; method: (typeof METHODS)[number]; params: unknown }, direct: () => unknown) => unknown;
/**
 * Lets `route` decide, each time a query of `db` runs, how it runs: it gets the query's prepare() arguments, the
 * method, its values and the direct call. Queries `.prepare()`d once and run later are routed when they run.
 */
function routeQueries(db: Db, route: Route, routeReads: boolean) {
  const session = (db as unknown as { session: Session }).session;
  const prepare = session.prepareQuery.bind(session);
  session.prepareQuery = (...args: Parameters<Session["prepareQuery"]>) => {
    const prepared = prepare(...args);
    if (!routeReads && isRead(args[0], args[QUERY_METADATA_ARG] as QueryMeta)) return prepared;
    for (const method of METHODS) {
      const direct = prepared[method].bind(prepared);
      prepared[method] = (params) => route({ args, method, params }, () => direct(params));
    }
    return prepared;
  };
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
  readonly #statements = new Lru<string, Statement>(STATEMENT_CACHE_SIZE);
  // biome-ignore lint/suspicious/noExplicitAny: the same signature as bun:sqlite's Database.prepare, which it overrides
  override prepare<R, P extends SQLQueryBindings | SQLQueryBindings[]>(text: string, params?: P): Statement<R, P extends any[] ? P : [P]> {
    if (params !== undefined) return super.prepare(text, params);
    let st = this.#statements.get(text);
    if (!st) this.#statements.set(text, (st = super.prepare(text)));
    return st as never;
  }
}

/**
 * The page cache when the configuration does not say (DB_CACHE_MB): SQLite's own default is 2 MiB, and a read that
 * visits rows spread over a large table (a search checking a few thousand matches against its filters) then goes
 * to the operating system for most pages: about 1.8 µs a row instead of 0.3 µs (README "Benchmarks", search). The
 * cache fills only as pages are read, so a small community never uses it all.
 */
export const DEFAULT_CACHE_MB = 64;

function openSqlite(path: string, busyTimeoutMs: number, cacheMb: number, log: HookLog): Database {
  const client = new StatementCache(path, { create: true, strict: true });
  // busy_timeout first: switching to WAL needs a lock another process may hold.
  client.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  client.exec("PRAGMA journal_mode = WAL");
  client.exec("PRAGMA synchronous = NORMAL");
  client.exec("PRAGMA foreign_keys = ON");
  client.exec(`PRAGMA cache_size = ${-Math.round(cacheMb * 1024)}`);
  // Two drizzle handles on the one connection: `raw` for transactions (fn gets it), `db` for everything else.
  const raw = drizzleBun({ client, schema }) as unknown as Db;
  const db = drizzleBun({ client, schema }) as unknown as Db;
  const owner = {};

  // drizzle's bun:sqlite transaction() only takes synchronous callbacks. Our callbacks are async (the same code
  // runs on libSQL), so we open the transaction ourselves on the single connection, and one FIFO line decides who
  // holds it: each transaction, and each write of `db` made while a transaction is open, waits for its turn. A
  // statement sent while another task's transaction is open would otherwise become part of that transaction (and
  // vanish with its rollback). BEGIN IMMEDIATE takes the write lock up front, so a second process on the same file
  // waits (busy_timeout) instead of failing half-way.
  let line: Promise<unknown> = Promise.resolve();
  let holder: Scope | undefined;
  const inLine = <T>(task: () => T | Promise<T>): Promise<T> => {
    const result = line.then(task);
    line = result.catch(() => undefined);
    return result;
  };

  // Reads stay direct (they see the open transaction's rows, which the read caches know: db/read-cache.ts). A
  // write runs at once when no transaction is open or when it comes from inside the open one; otherwise it waits.
  routeQueries(db, (_query, direct) => (!holder || openScope(owner) ? direct() : inLine(direct)), false);

  let savepoints = 0;
  const tx = <T>(fn: (tx: Db) => Promise<T>, opts?: TxOptions<T>): Promise<T> => {
    const parent = openScope(owner);
    if (parent) {
      return nestedTx(parent, fn, opts, async (body) => {
        const name = `sc_savepoint_${++savepoints}`;
        client.exec(`SAVEPOINT ${name}`);
        try {
          const result = await body(raw);
          client.exec(`RELEASE ${name}`);
          return result;
        } catch (err) {
          client.exec(`ROLLBACK TO ${name}`);
          client.exec(`RELEASE ${name}`);
          throw err;
        }
      });
    }
    return inLine(async () => {
      const scope = newScope(owner, raw);
      client.exec("BEGIN IMMEDIATE");
      holder = scope;
      let result: T;
      try {
        result = await inScope(scope, fn);
        client.exec("COMMIT");
      } catch (err) {
        if (client.inTransaction) client.exec("ROLLBACK");
        throw err;
      } finally {
        holder = undefined;
      }
      if (opts?.afterCommit) scope.hooks.push(() => opts.afterCommit!(result));
      runHooks(scope.hooks, log);
      return result;
    });
  };

  return {
    kind: "sqlite",
    db,
    tx,
    afterCommit: afterCommitOf(owner, log),
    async ping() {
      client.query("SELECT 1").get();
    },
    async close() {
      await line;
      client.close();
    },
  };
}

function openLibsql(url: string, authToken: string | undefined, log: HookLog): Database {
  const client = createClient({ url, authToken });
  const db = drizzleLibsql({ client, schema }) as unknown as Db;
  const owner = {};
  type LibsqlTx = { transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> };
  // Each statement of `db` is its own autocommit transaction on the server, and tx() a real separate one on its
  // own stream (the client's "write" transactions begin IMMEDIATE). Code inside a transaction that uses `db` is sent to the transaction's
  // stream: on its own connection it would wait for the lock its own transaction holds.
  routeQueries(
    db,
    ({ args, method, params }, direct) => {
      const scope = openScope(owner);
      if (!scope) return direct();
      const session = (scope.handle as unknown as { session: Session }).session;
      return session.prepareQuery(...(args as Parameters<Session["prepareQuery"]>))[method](params);
    },
    true,
  );
  const tx = async <T>(fn: (tx: Db) => Promise<T>, opts?: TxOptions<T>): Promise<T> => {
    const parent = openScope(owner);
    if (parent) return nestedTx(parent, fn, opts, (body) => (parent.handle as unknown as LibsqlTx).transaction(body));
    let scope!: Scope;
    const result = await (db as unknown as LibsqlTx).transaction((handle) => inScope((scope = newScope(owner, handle)), fn));
    if (opts?.afterCommit) scope.hooks.push(() => opts.afterCommit!(result));
    runHooks(scope.hooks, log);
    return result;
  };
  return {
    kind: "libsql",
    db,
    tx,
    afterCommit: afterCommitOf(owner, log),
    async ping() {
      await db.run(sql`SELECT 1`);
    },
    async close() {
      client.close();
    },
  };
}

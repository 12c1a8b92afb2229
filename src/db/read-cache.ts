// Exact read caches for bun:sqlite. An entry is reused only while the database has not changed at all since it
// was read, so it is never stale: SQLite's total_changes() counts every row this connection has inserted, updated
// or deleted (the app has one connection), and PRAGMA data_version moves whenever another connection or process
// commits (a second server on the same DATA_DIR, the CLI). Any write anywhere empties every cache, which is coarse
// but cannot miss a change; reads (feeds, the session check of every signed-in request) far outnumber writes.
//
// Why: on a busy server each SQLite statement costs 30-60 µs of the request (measured in the server under load;
// the same statement in a tight loop takes 3 µs, the difference is cold CPU caches between requests), while the
// version check is one tiny statement. The caches are deps.caches (src/caches.ts, built in src/index.ts): the feed
// pages (social/feeds.ts), the session + user behind each access token (auth/sessions.ts) and a viewer's
// reactions/follows on a page (posts/enrich.ts).
//
// On libSQL the counter is per server connection and the client is stateless, so nothing is cached there.
import type { Database as SQLite } from "bun:sqlite";
import type { Database } from "./client.ts";
import { queryRows } from "./prepared.ts";
import { Lru } from "../lib/lru.ts";

export const VERSION_SQL = `SELECT total_changes() AS c, (SELECT data_version FROM pragma_data_version) AS v`;

/**
 * Whether the connection is inside a write transaction: it then reads that transaction's uncommitted rows, and a
 * rollback does not move total_changes() back, so nothing read meanwhile may be kept.
 */
const inTransaction = (database: Database) => (database.db as unknown as { $client: SQLite }).$client.inTransaction;

async function databaseVersion(database: Database): Promise<string> {
  const [r] = await queryRows<{ c: number; v: number }>(database, VERSION_SQL, []);
  return `${r!.c}:${r!.v}`;
}

export type ReadCache<T> = {
  /** The value stored under `key` if the database is unchanged since it was read; otherwise reads and keeps it. */
  get(key: string, read: () => Promise<T>): Promise<T>;
  /**
   * Lookups since the start: a hit was answered without a read of its own (a kept value, or a read another request
   * had under way), a miss read the database. Plain counters, read by the metrics at scrape time (src/metrics).
   */
  readonly stats: { hits: number; misses: number };
};

/**
 * A cache of at most `maxEntries` values of one database (least recently used go first). Built once per process
 * at the composition root (deps.caches, src/caches.ts).
 */
export function readCache<T>(database: Database, maxEntries: number): ReadCache<T> {
  const stats = { hits: 0, misses: 0 };
  if (database.kind !== "sqlite") return { get: (_key, read) => (stats.misses++, read()), stats };
  let version = "";
  const entries = new Lru<string, T>(maxEntries);
  const reading = new Map<string, Promise<T>>();
  return {
    stats,
    async get(key, read) {
      const now = await databaseVersion(database);
      if (version !== now) {
        entries.clear();
        reading.clear();
        version = now;
      }
      if (entries.has(key)) {
        stats.hits++;
        return entries.get(key) as T; // and it is now the most recently used
      }
      if (inTransaction(database)) {
        stats.misses++;
        return read(); // it may roll back: neither kept nor shared
      }
      // Requests that miss together wait for one read (right after a write, every reader misses at once).
      const pending = reading.get(key);
      if (pending) {
        stats.hits++;
        return pending;
      }
      stats.misses++;
      const mine = read();
      reading.set(key, mine);
      try {
        const value = await mine;
        // Other requests run between our awaits. If one wrote meanwhile, the value may be older than the database:
        // kept under `now` it is dropped by the next get, which sees the counters moved (they never go back).
        // If one of those gets already moved the cache on to the new version, it is not kept at all.
        if (!inTransaction(database) && version === now) entries.set(key, value);
        return value;
      } finally {
        if (reading.get(key) === mine) reading.delete(key);
      }
    },
  };
}

/**
 * The same cache with every key prefixed by `prefix()` at each lookup: values made under another prefix are no longer
 * found (they age out). The media URLs signed for one hour are in the feed pages made during it (src/media/signed-urls.ts).
 */
export function prefixedCache<T>(cache: ReadCache<T>, prefix: () => string): ReadCache<T> {
  return {
    stats: cache.stats,
    get(key, read) {
      const p = prefix();
      return cache.get(p ? `${p}|${key}` : key, read);
    },
  };
}

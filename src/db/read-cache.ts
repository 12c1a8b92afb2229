// Exact read caches for bun:sqlite. An entry is reused only while the database has not changed at all since it
// was read, so it is never stale: SQLite's total_changes() counts every row this connection has inserted, updated
// or deleted (the app has one connection), and PRAGMA data_version moves whenever another connection or process
// commits (a second server on the same DATA_DIR, the CLI). Any write anywhere empties every cache, which is coarse
// but cannot miss a change; reads (feeds, the session check of every signed-in request) far outnumber writes.
//
// Why: on a busy server each SQLite statement costs 30-60 µs of the request (measured in the server under load;
// the same statement in a tight loop takes 3 µs, the difference is cold CPU caches between requests), while the
// version check is one tiny statement. Users of it: the feed pages (social/feeds.ts), the session + user behind
// each access token (auth/sessions.ts) and a viewer's reactions/follows on a page (posts/enrich.ts).
//
// On libSQL the counter is per server connection and the client is stateless, so nothing is cached there.
import type { Database as SQLite } from "bun:sqlite";
import type { Database } from "./client.ts";
import { queryRows } from "./prepared.ts";

export const VERSION_SQL = `SELECT total_changes() AS c, (SELECT data_version FROM pragma_data_version) AS v`;

type Store = { version: string; entries: Map<string, unknown>; reading: Map<string, Promise<unknown>> };
type Holder = { database: Database };

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
  get(deps: Holder, key: string, read: () => Promise<T>): Promise<T>;
};

/** A cache of at most `maxEntries` values (least recently used go first), one per database. */
export function readCache<T>(maxEntries: number): ReadCache<T> {
  const stores = new WeakMap<Database, Store>();
  return {
    async get({ database }, key, read) {
      if (database.kind !== "sqlite") return read();
      const version = await databaseVersion(database);
      let store = stores.get(database);
      if (!store) stores.set(database, (store = { version, entries: new Map(), reading: new Map() }));
      if (store.version !== version) {
        store.entries.clear();
        store.reading.clear();
        store.version = version;
      }
      if (store.entries.has(key)) {
        const hit = store.entries.get(key) as T;
        store.entries.delete(key); // most recently used goes last
        store.entries.set(key, hit);
        return hit;
      }
      if (inTransaction(database)) return read(); // it may roll back: neither kept nor shared
      // Requests that miss together wait for one read (right after a write, every reader misses at once).
      const pending = store.reading.get(key) as Promise<T> | undefined;
      if (pending) return pending;
      const reading = read();
      store.reading.set(key, reading);
      try {
        const value = await reading;
        // Other requests run between our awaits. If one wrote meanwhile, the value may be older than the database:
        // kept under `version` it is dropped by the next get, which sees the counters moved (they never go back).
        // If one of those gets already moved the cache on to the new version, it is not kept at all.
        if (!inTransaction(database) && store.version === version) {
          store.entries.set(key, value);
          if (store.entries.size > maxEntries) store.entries.delete(store.entries.keys().next().value!);
        }
        return value;
      } finally {
        if (store.reading.get(key) === reading) store.reading.delete(key);
      }
    },
  };
}

// An exact cache of feed pages for bun:sqlite. A page (its posts as anyone sees them, see publicPosts()) is reused
// only while the database has not changed at all since it was built, so it is never stale: SQLite's
// total_changes() counts every row this connection has inserted, updated or deleted (the app has one connection),
// and PRAGMA data_version moves whenever another connection or process commits. Any write anywhere empties the
// cache, which is coarse but cannot miss a change; feeds are read far more often than anything is written.
// The viewer's own fields and author presence are added per request (personalize()), never cached.
// On libSQL the counter is per server connection and the client is stateless, so nothing is cached there.
import type { Database as SQLite } from "bun:sqlite";
import type { Deps } from "../deps.ts";
import { queryRows } from "../db/prepared.ts";

export const VERSION_SQL = `SELECT total_changes() AS c, (SELECT data_version FROM pragma_data_version) AS v`;

/** At most this many pages are kept (least recently used go first): ~25 KB each at 20 posts. */
export const FEED_CACHE_PAGES = 256;

type Cache = { version: string; pages: Map<string, unknown> };
const caches = new WeakMap<Deps["database"], Cache>();

/**
 * Whether the connection is inside a write transaction: it then reads that transaction's uncommitted rows, and a
 * rollback does not move total_changes() back, so nothing read meanwhile may be kept.
 */
const inTransaction = (deps: Deps) => (deps.database.db as unknown as { $client: SQLite }).$client.inTransaction;

async function databaseVersion(deps: Deps): Promise<string> {
  const [r] = await queryRows<{ c: number; v: number }>(deps.database, VERSION_SQL, []);
  return `${r!.c}:${r!.v}`;
}

/** The page stored under `key` if the database is unchanged since it was built; otherwise builds and keeps it. */
export async function cachedPage<T>(deps: Deps, key: string, build: () => Promise<T>): Promise<T> {
  if (deps.database.kind !== "sqlite") return build();
  const version = await databaseVersion(deps);
  let cache = caches.get(deps.database);
  if (!cache) caches.set(deps.database, (cache = { version, pages: new Map() }));
  if (cache.version !== version) {
    cache.pages.clear();
    cache.version = version;
  }
  const hit = cache.pages.get(key) as T | undefined;
  if (hit !== undefined) {
    cache.pages.delete(key); // most recently used goes last
    cache.pages.set(key, hit);
    return hit;
  }
  const unsettled = inTransaction(deps);
  const page = await build();
  // A write may have landed while the page was built (other requests run between our awaits): keep it only if not.
  if (!unsettled && !inTransaction(deps) && (await databaseVersion(deps)) === version && cache.version === version) {
    cache.pages.set(key, page);
    if (cache.pages.size > FEED_CACHE_PAGES) cache.pages.delete(cache.pages.keys().next().value!);
  }
  return page;
}

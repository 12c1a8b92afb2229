// Applies the embedded migrations on both drivers with one code path (drizzle's own migrators differ per driver
// and read files from disk, which the compiled binary does not have). Each migration runs in a write transaction
// that re-checks what is applied, so two instances starting at once apply it exactly once.
//
// Upgrades (README "Upgrading"): upgradeDatabase, what a start runs, first compares the database's migrations
// journal with this binary's. A database that has migrations this binary does not know was upgraded by a newer
// Sidechain: it refuses to run against a schema it does not know. A SQLite database with migrations pending (and
// some applied: not a fresh one) is copied next to its file before they run; on a libSQL server it warns instead.
import { sql } from "drizzle-orm";
import { chmod, readdir, unlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { embeddedMigrations } from "./migrations.macro.ts" with { type: "macro" };
import type { Database } from "./client.ts";
import type { Logger } from "../lib/types.ts";

/** One migration of drizzle/: its statements, its journal time (the key drizzle records), its hash and file name. */
export type Migration = { sql: string[]; folderMillis: number; hash: string; tag: string };

export const MIGRATIONS: Migration[] = embeddedMigrations();
const TABLE = "__drizzle_migrations"; // drizzle-kit's name, so its tooling recognises the database

/** A migration recorded in the database's journal. */
export type RecordedMigration = { createdAt: number; hash: string };

export type MigrationStatus = {
  /** This binary's migrations the database has. */
  applied: Migration[];
  /** This binary's migrations the database lacks: a start applies them. */
  pending: Migration[];
  /** Migrations the database has and this binary does not know: a newer Sidechain applied them. */
  unknown: RecordedMigration[];
};

/** Where the database stands against `migrations` (this binary's). Reads only. */
export async function migrationStatus(database: Database, migrations: Migration[] = MIGRATIONS): Promise<MigrationStatus> {
  const table = await database.db.all(sql`SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = ${TABLE}`);
  const rows = table.length
    ? await database.db.all<{ hash: string; created_at: number }>(sql.raw(`SELECT hash, created_at FROM ${TABLE} ORDER BY created_at`))
    : [];
  const recorded = new Set(rows.map((r) => Number(r.created_at)));
  const known = new Set(migrations.map((m) => m.folderMillis));
  return {
    applied: migrations.filter((m) => recorded.has(m.folderMillis)),
    pending: migrations.filter((m) => !recorded.has(m.folderMillis)),
    unknown: rows.filter((r) => !known.has(Number(r.created_at))).map((r) => ({ createdAt: Number(r.created_at), hash: r.hash })),
  };
}

/** "0003_posts, 0004_social" (at most a few, then how many more). */
export function migrationNames(migrations: Migration[], max = 3): string {
  const names = migrations.slice(0, max).map((m) => m.tag);
  return migrations.length > max ? `${names.join(", ")} and ${migrations.length - max} more` : names.join(", ");
}

/** The unknown migrations, named the only way the database knows them: when they were made, and their hash. */
export function describeUnknown(unknown: RecordedMigration[]): string {
  return unknown.map((m) => `one made ${new Date(m.createdAt).toISOString()} (hash ${m.hash.slice(0, 12)})`).join(", ");
}

/** A database a newer Sidechain has migrated: this binary refuses to run on it. */
export class NewerDatabaseError extends Error {
  override name = "NewerDatabaseError";
  constructor(readonly unknown: RecordedMigration[]) {
    super(
      `the database was migrated by a newer Sidechain: it has ${unknown.length} migration${unknown.length === 1 ? "" : "s"} this binary does not know ` +
        `(${describeUnknown(unknown)}). Run that newer version (or a later one), or restore the backup taken before the upgrade ` +
        `(README "Upgrading"); nothing was changed`,
    );
  }
}

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

/** How many backups taken before upgrades are kept next to the database file (README "Upgrading"). */
export const UPGRADE_BACKUPS_KEPT = 3;

export type UpgradeOptions = {
  /** The SQLite file of `database` (null on a libSQL server): its backups are written next to it. */
  file: string | null;
  log: Logger;
  migrations?: Migration[];
  keep?: number;
  now?: () => number;
};

export type UpgradeResult = { applied: number; backup: string | null; removed: string[] };

/** What the server runs at start (and the commands that migrate): check, back up when upgrading, apply. */
export async function upgradeDatabase(database: Database, opts: UpgradeOptions): Promise<UpgradeResult> {
  const migrations = opts.migrations ?? MIGRATIONS;
  const status = await migrationStatus(database, migrations);
  if (status.unknown.length) throw new NewerDatabaseError(status.unknown);
  let backup: string | null = null;
  let removed: string[] = [];
  const upgrading = status.pending.length > 0 && status.applied.length > 0;
  if (upgrading && opts.file) {
    backup = await backupBeforeUpgrade(database, opts.file, status.applied.at(-1)!.tag, (opts.now ?? Date.now)());
    removed = await pruneUpgradeBackups(opts.file, opts.keep ?? UPGRADE_BACKUPS_KEPT);
    opts.log.info("database backed up before migrating", { backup, pending: migrationNames(status.pending), removed_backups: removed.length });
  } else if (upgrading) {
    const why = "Sidechain cannot copy a server's database; back the server up before starting a newer version";
    opts.log.warn(`migrating the database on the libSQL server without a backup: ${why}`, {
      pending: migrationNames(status.pending),
      see: 'README "Upgrading"',
    });
  }
  return { applied: await applyMigrations(database, migrations), backup, removed };
}

const BACKUP_INFIX = ".before-";
/** The UTC time in a backup's name, sortable: 2026-12-06T10-30-00-000Z. */
const stamp = (ms: number) => new Date(ms).toISOString().replace(/[:.]/g, "-");
const STAMP = /-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z)(?:-\d+)?$/;

/**
 * A consistent copy of the database as it is now, next to its file: SQLite's VACUUM INTO (one read transaction,
 * WAL content included), not a copy of the file. Throws when it cannot be written: no migration runs without it.
 */
async function backupBeforeUpgrade(database: Database, file: string, lastTag: string, now: number): Promise<string> {
  const base = `${file}${BACKUP_INFIX}${lastTag}-${stamp(now)}`;
  let to = base;
  for (let i = 2; existsSync(to); i++) to = `${base}-${i}`;
  try {
    await database.db.run(sql`VACUUM INTO ${to}`);
  } catch (err) {
    throw new Error(`could not back up the database to ${to} before migrating it, so nothing was migrated: ${(err as Error).message}`);
  }
  await chmod(to, 0o600); // it holds password hashes and sessions, like the database
  return to;
}

/** Deletes all but the newest `keep` backups of `file` taken before upgrades; returns the paths it deleted. */
async function pruneUpgradeBackups(file: string, keep: number): Promise<string[]> {
  const prefix = `${basename(file)}${BACKUP_INFIX}`;
  const backups = (await readdir(dirname(file)))
    .filter((n) => n.startsWith(prefix) && STAMP.test(n))
    .map((n) => [STAMP.exec(n)![1]!, n] as const)
    .sort(([a, an], [b, bn]) => (a < b ? -1 : a > b ? 1 : an < bn ? -1 : an > bn ? 1 : 0))
    .map(([, n]) => n);
  const old = backups.slice(0, Math.max(0, backups.length - keep)).map((n) => join(dirname(file), n));
  for (const path of old) {
    await unlink(path);
    for (const extra of ["-wal", "-shm"]) await unlink(path + extra).catch(() => undefined);
  }
  return old;
}

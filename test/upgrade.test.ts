// Upgrades (README "Upgrading"): a newer binary on an older DATA_DIR backs the database up before migrating, keeping
// the last few; a binary older than its database refuses to start. On a real SQLite file and a real libSQL server.
import { Database as SQLite } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { openDatabase } from "../src/db/client.ts";
import { applyMigrations, MIGRATIONS, migrationStatus, NewerDatabaseError, upgradeDatabase } from "../src/db/migrate.ts";
import { loadConfig } from "../src/config.ts";
import { buildDeps } from "../src/index.ts";
import { sidechain } from "./support/cli.ts";
import { startSqld, type Sqld } from "./support/sqld.ts";

const ROOT = join(import.meta.dir, "..");
const FUTURE = { createdAt: 4_102_444_800_000, hash: "f00dfeed".repeat(8) }; // 2100-01-01
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dataDir() {
  const dir = mkdtempSync(join(tmpdir(), "sc-upgrade-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

type Line = { level: string; msg: string } & Record<string, unknown>;
function capture() {
  const lines: Line[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, ...fields });
  return { lines, log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

/** A database as an older Sidechain left it: only the first `n` migrations, and a row of data. */
async function oldDatabase(env: Record<string, string>, n: number) {
  const database = openDatabase(loadConfig(env));
  try {
    await applyMigrations(database, MIGRATIONS.slice(0, n));
    await database.db.run(sql`INSERT INTO meta (key, value, updated_at) VALUES ('kept', 'yes', 1)`);
  } finally {
    await database.close();
  }
}

/** A database a newer Sidechain migrated: every migration of this binary, and one it does not know. */
async function futureDatabase(env: Record<string, string>) {
  const database = openDatabase(loadConfig(env));
  try {
    await applyMigrations(database);
    await database.db.run(sql`INSERT INTO __drizzle_migrations (hash, created_at) VALUES (${FUTURE.hash}, ${FUTURE.createdAt})`);
  } finally {
    await database.close();
  }
}

const backupsIn = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.startsWith("sidechain.db.before-") && !/-(wal|shm)$/.test(n))
    .sort();

describe("upgrading a SQLite DATA_DIR", () => {
  test("a start with migrations pending first copies the database next to it, with the old schema and data", async () => {
    const dir = dataDir();
    const last = MIGRATIONS.length - 1; // the last migration (stories) is pending
    await oldDatabase({ DATA_DIR: dir }, last);
    const { lines, log } = capture();
    const deps = await buildDeps(loadConfig({ DATA_DIR: dir }), { log });
    cleanups.push(() => deps.close({ graceMs: 0 }));

    const [backup] = backupsIn(dir);
    expect(backupsIn(dir)).toHaveLength(1);
    expect(backup).toMatch(new RegExp(`^sidechain\\.db\\.before-${MIGRATIONS[last - 1]!.tag}-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d-\\d{3}Z$`));
    expect(statSync(join(dir, backup!)).mode & 0o777).toBe(0o600);
    const copy = new SQLite(join(dir, backup!), { readonly: true });
    try {
      expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      expect(copy.query("SELECT count(*) AS n FROM __drizzle_migrations").get()).toEqual({ n: last });
      expect(copy.query("SELECT value FROM meta WHERE key = 'kept'").get()).toEqual({ value: "yes" });
      expect(copy.query("SELECT name FROM sqlite_master WHERE name = 'stories'").get()).toBeNull();
    } finally {
      copy.close();
    }
    expect(await migrationStatus(deps.database)).toMatchObject({ pending: [], unknown: [] });
    expect(lines.find((l) => l.msg === "database backed up before migrating")).toMatchObject({
      level: "info",
      backup: join(dir, backup!),
      pending: MIGRATIONS[last]!.tag,
    });
    expect(lines.find((l) => l.msg === "migrations applied")).toMatchObject({ count: 1 });
  });

  test("nothing is backed up for a fresh database, nor when nothing is pending", async () => {
    const dir = dataDir();
    const first = await buildDeps(loadConfig({ DATA_DIR: dir }), { log: capture().log });
    await first.close({ graceMs: 0 });
    const second = await buildDeps(loadConfig({ DATA_DIR: dir }), { log: capture().log });
    await second.close({ graceMs: 0 });
    expect(backupsIn(dir)).toEqual([]);
  });

  test("only the newest three backups taken before upgrades are kept", async () => {
    const dir = dataDir();
    const file = join(dir, "sidechain.db");
    await oldDatabase({ DATA_DIR: dir }, 1);
    const database = openDatabase(loadConfig({ DATA_DIR: dir }));
    cleanups.push(() => database.close());
    const { log } = capture();
    const removed: string[] = [];
    // Five upgrades, one migration each, a minute apart.
    for (let n = 2; n <= 6; n++) {
      const result = await upgradeDatabase(database, { file, log, migrations: MIGRATIONS.slice(0, n), now: () => Date.UTC(2026, 0, 1, 0, n) });
      expect(result.applied).toBe(1);
      expect(result.backup).toContain(`before-${MIGRATIONS[n - 2]!.tag}-2026-01-01T00-0${n}-00-000Z`);
      removed.push(...result.removed);
    }
    expect(backupsIn(dir).map((n) => n.replace(/^sidechain\.db\.before-(\w+)-.*$/, "$1"))).toEqual(MIGRATIONS.slice(2, 5).map((m) => m.tag));
    expect(removed.map((p) => p.replace(/^.*before-(\w+)-.*$/, "$1"))).toEqual(MIGRATIONS.slice(0, 2).map((m) => m.tag));
    for (const p of removed) expect(existsSync(p)).toBe(false);
  });

  test("a backup that cannot be written stops the upgrade before any migration runs", async () => {
    const dir = dataDir();
    await oldDatabase({ DATA_DIR: dir }, 2);
    const database = openDatabase(loadConfig({ DATA_DIR: dir }));
    cleanups.push(() => database.close());
    const file = join(dir, "missing-dir", "sidechain.db"); // its directory does not exist: VACUUM INTO fails
    await expect(upgradeDatabase(database, { file, log: capture().log, migrations: MIGRATIONS.slice(0, 3) })).rejects.toThrow(
      /could not back up the database to .*missing-dir.* before migrating it, so nothing was migrated/,
    );
    expect((await migrationStatus(database)).applied).toHaveLength(2);
  });

  test("a database a newer Sidechain migrated is refused, named, and left as it was", async () => {
    const dir = dataDir();
    await futureDatabase({ DATA_DIR: dir });
    const err = await buildDeps(loadConfig({ DATA_DIR: dir }), { log: capture().log }).catch((e) => e);
    expect(err).toBeInstanceOf(NewerDatabaseError);
    expect(err.message).toContain("migrated by a newer Sidechain");
    expect(err.message).toContain(`one made 2100-01-01T00:00:00.000Z (hash ${FUTURE.hash.slice(0, 12)})`);
    expect(err.message).toContain('README "Upgrading"');
    expect(backupsIn(dir)).toEqual([]);
    const raw = new SQLite(join(dir, "sidechain.db"), { readonly: true });
    try {
      expect(raw.query("SELECT count(*) AS n FROM __drizzle_migrations").get()).toEqual({ n: MIGRATIONS.length + 1 });
    } finally {
      raw.close();
    }

    // The commands that open the database refuse it too, with exit code 1.
    const cli = await sidechain({ DATA_DIR: dir }, "mail", "list");
    expect(cli.code).toBe(1);
    expect(cli.err).toContain("sidechain: the database was migrated by a newer Sidechain");
  });

  test("the server process refuses to start on it and exits non-zero", async () => {
    const dir = dataDir();
    await futureDatabase({ DATA_DIR: dir });
    const proc = Bun.spawn([process.execPath, "src/index.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), DATA_DIR: dir, PORT: "0", LOG_LEVEL: "error" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(stderr).toContain("sidechain: cannot start: the database was migrated by a newer Sidechain");
    expect(stdout).not.toContain('"msg":"listening"');
  });
});

describe("upgrading on a libSQL server", () => {
  let sqld: Sqld;
  const server = async () => {
    sqld = await startSqld();
    cleanups.push(() => sqld.stop());
    return { DATA_DIR: dataDir(), DATABASE_URL: sqld.url };
  };

  test("migrations pending: a warning to back the server up, then they are applied", async () => {
    const env = await server();
    await oldDatabase(env, MIGRATIONS.length - 2);
    const { lines, log } = capture();
    const deps = await buildDeps(loadConfig(env), { log });
    cleanups.push(() => deps.close({ graceMs: 0 }));
    const warning = lines.find((l) => l.level === "warn" && l.msg.startsWith("migrating the database on the libSQL server without a backup"));
    expect(warning).toMatchObject({
      pending: MIGRATIONS.slice(-2)
        .map((m) => m.tag)
        .join(", "),
    });
    expect(warning!.msg).toContain("back the server up before starting a newer version");
    expect(lines.find((l) => l.msg === "migrations applied")).toMatchObject({ count: 2 });
    expect(await migrationStatus(deps.database)).toMatchObject({ pending: [], unknown: [] });
    const rows = await deps.database.db.all<{ value: string }>(sql`SELECT value FROM meta WHERE key = 'kept'`);
    expect(rows).toEqual([{ value: "yes" }]);
    expect(backupsIn(env.DATA_DIR)).toEqual([]);
  });

  test("a database a newer Sidechain migrated is refused", async () => {
    const env = await server();
    await futureDatabase(env);
    const { lines, log } = capture();
    await expect(buildDeps(loadConfig(env), { log })).rejects.toThrow(/migrated by a newer Sidechain: it has 1 migration this binary does not know/);
    expect(lines.filter((l) => l.level === "warn")).toEqual([]);
  });
});

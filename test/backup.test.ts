// Backups in process (README "Backups"): verify finds a flipped byte, a missing and an extra file; restore refuses a
// non-empty DATA_DIR, one a server uses, and a damaged backup, leaving the directory as it was; the second backup of
// a root links unchanged media instead of copying them; --keep and BACKUP_KEEP prune; a failed or stopped backup
// leaves nothing verify accepts; BACKUP_SCHEDULE is checked at start; instances on one database take one scheduled
// backup per slot (the job runs the real `backup create` process).
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBackup } from "../src/backup/create.ts";
import { markInUse } from "../src/backup/in-use.ts";
import { PARTIAL_PREFIX } from "../src/backup/manifest.ts";
import { nextBackupSlot, parseBackupSchedule } from "../src/backup/schedule-spec.ts";
import { BACKUP_JOB, registerBackupJob, startBackupScheduler } from "../src/backup/schedule.ts";
import { verifyBackup } from "../src/backup/verify.ts";
import { runCli } from "../src/cli.ts";
import { ConfigError, loadConfig, parseEnv } from "../src/config.ts";
import { buildDeps, start } from "../src/index.ts";
import { registerProducer } from "./support/auth.ts";
import { createTestEnv, type TestEnv } from "./support/deps.ts";
import { insertReadyPost } from "./support/ready-posts.ts";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const tmp = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `sc-backup-${name}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) }, out, err };
};
const png = (n: number) => new Uint8Array(Array.from({ length: 256 + n }, (_, i) => (i * 7 + n) & 255));

const postIds = new Map<TestEnv, string>();
/** A community with a producer, a ready post and a few media objects in local storage. */
async function community(): Promise<TestEnv> {
  const env = await createTestEnv();
  cleanups.push(() => env.close());
  const p = await registerProducer(env);
  postIds.set(env, await insertReadyPost(env, p.id, "Kept"));
  for (let i = 0; i < 3; i++) await env.deps.storage.put(`loops/seed${i}/peaks.json`, png(i));
  return env;
}
const backupEnv = (env: TestEnv, extra: Record<string, string> = {}) => ({ DATA_DIR: env.deps.config.DATA_DIR, ...extra });

async function backupOf(env: TestEnv, root: string, extra: string[] = []) {
  const c = capture();
  const code = await runCli(["backup", "create", root, ...extra], backupEnv(env), c.io);
  expect(c.err).toEqual([]);
  expect(code).toBe(0);
  const names = readdirSync(root)
    .filter((n) => n.startsWith("sidechain-backup-"))
    .sort();
  return { dir: join(root, names.at(-1)!), names, out: c.out };
}

describe("backup create and verify", () => {
  test("a backup holds the database, the secrets and the media, each listed with its size and SHA-256", async () => {
    const env = await community();
    const root = tmp("root");
    const { dir, out } = await backupOf(env, root);
    expect(out[0]).toStartWith("Backup written to");
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest.database).toMatchObject({ kind: "sqlite", file: "sidechain.db", integrity: "ok" });
    expect(manifest.database.migrations).toBeGreaterThan(0);
    expect(manifest.media).toMatchObject({ driver: "local", files: 3, copied: 3, linked: 0, previous: null });
    const paths = manifest.files.map((f: { path: string }) => f.path);
    expect(paths).toEqual(["sidechain.db", "secrets.json", "media/loops/seed0/peaks.json", "media/loops/seed1/peaks.json", "media/loops/seed2/peaks.json"]);
    const media = manifest.files[2];
    expect(media.sha256).toBe(new Bun.CryptoHasher("sha256").update(png(0)).digest("hex"));
    expect(statSync(join(dir, "secrets.json")).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);

    const c = capture();
    expect(await runCli(["backup", "verify", dir], {}, c.io)).toBe(0);
    expect(c.out[0]).toContain("5 files");
    expect(c.out[0]).toContain("database integrity ok");
  });

  test("verify reports a flipped byte, a missing file, an extra file and a damaged database, and exits 1", async () => {
    const env = await community();
    const root = tmp("root");
    const { dir } = await backupOf(env, root);
    const flip = (path: string, at: number) => {
      const bytes = readFileSync(path);
      bytes[at] = bytes[at]! ^ 0x01;
      writeFileSync(path, bytes);
    };
    flip(join(dir, "media/loops/seed1/peaks.json"), 10);
    rmSync(join(dir, "media/loops/seed2/peaks.json"));
    writeFileSync(join(dir, "media/stray.bin"), "x");
    const c = capture();
    expect(await runCli(["backup", "verify", dir], {}, c.io)).toBe(1);
    const report = c.err.join("\n");
    expect(report).toContain("FAILED");
    expect(report).toContain("media/loops/seed1/peaks.json: its SHA-256 is");
    expect(report).toContain("media/loops/seed2/peaks.json: missing");
    expect(report).toContain("media/stray.bin: not in the manifest");

    // A database page damaged and its checksum recomputed in the manifest: the integrity check still finds it.
    const second = await backupOf(env, tmp("root2"));
    const db = join(second.dir, "sidechain.db");
    const bytes = readFileSync(db);
    bytes.fill(0x41, 100, 600); // the schema page's b-tree header and cells
    writeFileSync(db, bytes);
    const manifest = JSON.parse(readFileSync(join(second.dir, "manifest.json"), "utf8"));
    manifest.files[0].sha256 = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    writeFileSync(join(second.dir, "manifest.json"), JSON.stringify(manifest));
    const r = await verifyBackup(second.dir);
    expect(r.ok).toBe(false);
    expect(r.problems.join("\n")).toMatch(/sidechain\.db: (integrity check failed|cannot be opened)/);

    // The root itself is no backup; the report says which one to give.
    const d = capture();
    expect(await runCli(["backup", "verify", root], {}, d.io)).toBe(1);
    expect(d.err.join("\n")).toContain("has no manifest.json");
    expect(d.err.join("\n")).toContain("holds backups; give one of them");
  });

  test("the second backup of a root links unchanged media and copies only new ones; --keep prunes the oldest", async () => {
    const env = await community();
    const root = tmp("root");
    const first = await backupOf(env, root);
    await env.deps.storage.put("loops/later/peaks.json", png(9));
    const second = await backupOf(env, root, ["--keep", "2"]);
    expect(second.dir).not.toBe(first.dir);
    const manifest = JSON.parse(readFileSync(join(second.dir, "manifest.json"), "utf8"));
    expect(manifest.media).toMatchObject({ files: 4, copied: 1, linked: 3, previous: first.names[0] });
    // Linked: the same inode as in the first backup, not a copy.
    const ino = (d: string) => statSync(join(d, "media/loops/seed0/peaks.json")).ino;
    expect(ino(second.dir)).toBe(ino(first.dir));
    expect(statSync(join(second.dir, "media/loops/seed0/peaks.json")).nlink).toBe(2);
    expect(statSync(join(second.dir, "media/loops/later/peaks.json")).nlink).toBe(1);
    expect(second.out.join("\n")).toContain("1 copied, 3 unchanged linked from");

    const third = await backupOf(env, root, ["--keep", "2"]);
    expect(third.names).toHaveLength(2);
    expect(third.names).not.toContain(first.names[0]);
    expect(third.out.join("\n")).toContain(`deleted the older backup ${first.names[0]}`);
    // Deleting the oldest freed nothing the newer ones link, and they still verify.
    for (const name of third.names) expect((await verifyBackup(join(root, name))).ok).toBe(true);
  });

  test("a failed or stopped backup leaves nothing verify accepts, and a killed one's partial directory is removed later", async () => {
    const env = await community();
    const root = tmp("root");
    // No database where DATABASE_URL points.
    const c = capture();
    expect(await runCli(["backup", "create", root], backupEnv(env, { DATABASE_URL: `file:${join(root, "nowhere.db")}` }), c.io)).toBe(1);
    expect(c.err.join("\n")).toContain("there is no database at");
    expect(readdirSync(root)).toEqual([]);
    // Stopped midway (the scheduled job's abort): removed.
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    await expect(createBackup({ ...env.deps.config }, { root, signal: controller.signal })).rejects.toThrow("the backup was stopped");
    expect(readdirSync(root)).toEqual([]);
    // A partial directory of a process that died (a pid that is not running) is cleared by the next backup.
    const dead = Bun.spawnSync(["true"]).pid;
    const host = (await import("node:os")).hostname().replace(/[^A-Za-z0-9._-]/g, "_");
    const partial = join(root, `${PARTIAL_PREFIX}sidechain-backup-x@${host}-${dead}`);
    mkdirSync(join(partial, "media"), { recursive: true });
    writeFileSync(join(partial, "sidechain.db"), "half");
    expect((await verifyBackup(partial)).problems[0]).toContain("never finished");
    await backupOf(env, root);
    expect(existsSync(partial)).toBe(false);
  });

  test("with a libSQL server and S3 storage the manifest says what is not in the backup and why", async () => {
    const env = await community();
    const root = tmp("root");
    const c = capture();
    const extra = { DATABASE_URL: "http://127.0.0.1:9", STORAGE: "s3", S3_BUCKET: "loops", JWT_SECRET: "x".repeat(40) };
    expect(await runCli(["backup", "create", root], backupEnv(env, extra), c.io)).toBe(0);
    const text = c.out.join("\n");
    expect(text).toContain("database  not included (libSQL server)");
    expect(text).toContain("not included: database: DATABASE_URL names a libSQL server");
    expect(text).toContain("not included: media in S3: STORAGE=s3");
    expect(text).toContain("not included: JWT_SECRET: set in the environment");
    const dir = join(root, readdirSync(root)[0]!);
    const r = await verifyBackup(dir);
    expect(r.ok).toBe(true);
    expect(r.manifest!.database).toEqual({ kind: "libsql", file: null });
    // Local media still present on disk are backed up all the same.
    expect(r.manifest!.media.files).toBe(3);
  });

  test("bad arguments exit 2 with the usage", async () => {
    for (const args of [
      ["backup"],
      ["backup", "create", "--keep", "0"],
      ["backup", "create", "a", "b"],
      ["backup", "verify"],
      ["backup", "restore", "--force", "x"],
    ]) {
      const c = capture();
      expect(await runCli(args, {}, c.io)).toBe(2);
      expect(c.err.join("\n")).toContain("sidechain backup create [DIR]");
    }
    const c = capture();
    expect(await runCli(["backup", "verify", "x"], { BACKUP_SCHEDULE: "nightly" }, c.io)).toBe(2);
    expect(c.err[0]).toContain("BACKUP_SCHEDULE");
  });
});

describe("backup restore", () => {
  test("restores into an empty DATA_DIR; refuses a non-empty one, one in use and a damaged backup, changing nothing", async () => {
    const env = await community();
    const { dir } = await backupOf(env, tmp("root"));

    const full = tmp("full");
    writeFileSync(join(full, "notes.txt"), "mine");
    const c = capture();
    expect(await runCli(["backup", "restore", dir], { DATA_DIR: full }, c.io)).toBe(1);
    expect(c.err[0]).toContain("is not empty (notes.txt)");
    expect(readdirSync(full)).toEqual(["notes.txt"]);

    // A server on the directory (started in this process): in use.
    const used = tmp("used");
    const server = await start(loadConfig({ DATA_DIR: used, PORT: "0", LOG_LEVEL: "error" }));
    cleanups.push(() => server.stop());
    const d = capture();
    expect(await runCli(["backup", "restore", dir], { DATA_DIR: used }, d.io)).toBe(1);
    expect(d.err[0]).toContain("is in use: server pid");
    await server.stop();
    expect(readdirSync(used)).not.toContain(".in-use"); // a stopped server removes its marker

    // A damaged backup: nothing is written.
    const damaged = join(tmp("copy"), "b");
    Bun.spawnSync(["cp", "-a", dir, damaged]);
    appendFileSync(join(damaged, "media/loops/seed0/peaks.json"), "!");
    const empty = join(tmp("empty"), "data");
    const e = capture();
    expect(await runCli(["backup", "restore", damaged], { DATA_DIR: empty }, e.io)).toBe(1);
    expect(e.err[0]).toContain("does not verify, nothing was restored");
    expect(existsSync(empty)).toBe(false);

    // The real thing: a new directory, and the server starts on it with the data there.
    const fresh = join(tmp("fresh"), "data");
    const f = capture();
    expect(await runCli(["backup", "restore", dir], { DATA_DIR: fresh }, f.io)).toBe(0);
    expect(f.out[0]).toContain("5 files");
    expect(readFileSync(join(fresh, "media/loops/seed1/peaks.json"))).toEqual(Buffer.from(png(1)));
    expect(statSync(join(fresh, "secrets.json")).mode & 0o777).toBe(0o600);
    const restored = await start(loadConfig({ DATA_DIR: fresh, PORT: "0", LOG_LEVEL: "error" }));
    cleanups.push(() => restored.stop());
    expect(restored.deps.config.JWT_SECRET).toBe(env.deps.config.JWT_SECRET);
    const global = (await (await fetch(`${restored.url.replace("localhost", "127.0.0.1")}/api/v1/feed/global`)).json()) as { posts: { id: string }[] };
    expect(global.posts.map((p) => p.id)).toEqual([postIds.get(env)!]);
  });

  test("a server refuses to start on a DATA_DIR a restore is filling; a dead restore's marker does not block", async () => {
    const dataDir = tmp("restoring");
    const marker = markInUse(dataDir, "restore");
    await expect(start(loadConfig({ DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "error" }))).rejects.toThrow("a backup is being restored into DATA_DIR");
    marker.release();
    // A marker whose process is gone is stale: removed, and the server starts.
    mkdirSync(join(dataDir, ".in-use"), { recursive: true });
    writeFileSync(
      join(dataDir, ".in-use", "restore-x.json"),
      JSON.stringify({ kind: "restore", pid: Bun.spawnSync(["true"]).pid, hostname: (await import("node:os")).hostname(), startedAt: "then" }),
    );
    const server = await start(loadConfig({ DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "error" }));
    cleanups.push(() => server.stop());
    expect(existsSync(join(dataDir, ".in-use", "restore-x.json"))).toBe(false);
  });
});

describe("scheduled backups", () => {
  test("BACKUP_SCHEDULE is checked at start with a message naming it; slots are computed in UTC", () => {
    for (const bad of ["25:00", "3am", "0m", "25h", "03:00,nope", "every day"]) {
      expect(() => parseEnv({ BACKUP_SCHEDULE: bad })).toThrow(ConfigError);
      expect(() => parseEnv({ BACKUP_SCHEDULE: bad })).toThrow(`BACKUP_SCHEDULE="${bad}"`);
    }
    expect(() => parseEnv({ BACKUP_KEEP: "0" })).toThrow("BACKUP_KEEP");
    expect(parseBackupSchedule("off")).toEqual({ kind: "off" });
    expect(parseBackupSchedule("15:00, 03:00")).toEqual({ kind: "daily", minutes: [180, 900] });
    expect(parseBackupSchedule("6h")).toEqual({ kind: "every", ms: 6 * 3_600_000 });
    const at = (iso: string) => Date.parse(iso);
    const daily = parseBackupSchedule("03:00,15:00") as Exclude<ReturnType<typeof parseBackupSchedule>, string>;
    expect(nextBackupSlot(daily, at("2025-01-01T02:59:59Z"))).toBe(at("2025-01-01T03:00:00Z"));
    expect(nextBackupSlot(daily, at("2025-01-01T03:00:00Z"))).toBe(at("2025-01-01T15:00:00Z"));
    expect(nextBackupSlot(daily, at("2025-01-01T16:00:00Z"))).toBe(at("2025-01-02T03:00:00Z"));
    const every = parseBackupSchedule("7h") as Exclude<ReturnType<typeof parseBackupSchedule>, string>;
    expect(nextBackupSlot(every, at("2025-01-01T20:00:00Z"))).toBe(at("2025-01-01T21:00:00Z"));
    expect(nextBackupSlot(every, at("2025-01-01T22:00:00Z"))).toBe(at("2025-01-02T00:00:00Z")); // counted from each midnight
    expect(nextBackupSlot({ kind: "off" }, 0)).toBeNull();
  });

  test("two instances on one database take one backup per slot, by the real `backup create` process, and BACKUP_KEEP prunes", async () => {
    const dataDir = tmp("shared");
    const root = join(dataDir, "backups");
    const config = loadConfig({ DATA_DIR: dataDir, BACKUP_SCHEDULE: "03:00", BACKUP_KEEP: "1", LOG_LEVEL: "error", JOB_POLL_MS: "50" });
    const [a, b] = [await buildDeps(config), await buildDeps(config)];
    cleanups.push(
      () => a.close({ graceMs: 0 }),
      () => b.close({ graceMs: 0 }),
    );
    for (const deps of [a, b]) registerBackupJob(deps);
    const [sa, sb] = [startBackupScheduler(a), startBackupScheduler(b)];
    cleanups.push(
      () => sa.stop(),
      () => sb.stop(),
    );
    expect(sa.next).toBe(nextBackupSlot({ kind: "daily", minutes: [180] }, Date.now()));
    const slot = Date.parse("2025-01-01T03:00:00Z");
    const [ja, jb] = await Promise.all([sa.enqueueSlot(slot), sb.enqueueSlot(slot)]);
    expect(ja.jobId).toBe(jb.jobId);
    expect([ja.created, jb.created].sort()).toEqual([false, true]);
    await Promise.all([a.jobs.start(), b.jobs.start()]);
    const done = await a.jobs.waitFor(ja.jobId, 60_000);
    expect(done).toMatchObject({ type: BACKUP_JOB, status: "done", attempts: 1 });
    const first = readdirSync(root).filter((n) => n.startsWith("sidechain-backup-"));
    expect(first).toHaveLength(1);
    expect((await verifyBackup(join(root, first[0]!))).ok).toBe(true);

    // The next slot: a second backup, and BACKUP_KEEP=1 leaves only it.
    const next = await sb.enqueueSlot(slot + 86_400_000);
    expect(next.created).toBe(true);
    expect(await b.jobs.waitFor(next.jobId, 60_000)).toMatchObject({ status: "done" });
    const second = readdirSync(root).filter((n) => n.startsWith("sidechain-backup-"));
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]);
  }, 90_000);
});

// `sidechain backup create` (README "Backups"): a consistent copy of the database, the local media and the secrets
// file, with a manifest of checksums, written into a directory of its own under the backup root.
//
// - The database is copied with SQLite's `VACUUM INTO` on a connection of its own: one read transaction, so the copy
//   is the database as of one instant, WAL content included, while the server goes on reading and writing (WAL
//   readers never block writers). The copy is checked with `PRAGMA integrity_check` before anything else is done.
// - Media are copied after the database, so every loop in the copy has its files (keys are never rewritten, and
//   uploads only add files; a file deleted in between is counted as vanished).
// - Incremental: a media file whose key, size and SHA-256 equal the previous backup's (the newest complete one in
//   the same root) is hard-linked from it instead of copied; where linking fails (another filesystem, a filesystem
//   without links) it is copied. Each backup directory is complete on its own, and deleting an old one frees only
//   what no newer one links.
// - Nothing half-written looks complete: the backup is written into `.partial-…` and renamed to
//   `sidechain-backup-<time>` after its manifest, and a failure removes the partial directory.
import { Database as SQLite } from "bun:sqlite";
import { createReadStream, createWriteStream, existsSync, type Stats } from "node:fs";
import { chmod, copyFile, link, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import type { Config } from "../config.ts";
import { sqlitePath } from "../db/client.ts";
import pkg from "../../package.json" with { type: "json" };
import {
  DB_FILE,
  FORMAT,
  FORMAT_VERSION,
  hashFile,
  listBackups,
  listFiles,
  MANIFEST,
  type Manifest,
  type ManifestFile,
  MEDIA_DIR,
  NAME_PREFIX,
  type NotIncluded,
  PARTIAL_PREFIX,
  readManifest,
  SECRETS_FILE,
} from "./manifest.ts";

/** The configuration a backup reads (a structural subset of Config, so the CLI can pass what it parsed). */
export type BackupConfig = Pick<Config, "DATA_DIR" | "DATABASE_URL" | "DB_BUSY_TIMEOUT_MS" | "STORAGE" | "BACKUP_DIR"> & {
  /** Whether JWT_SECRET came from the environment (then it is not in DATA_DIR/secrets.json). */
  JWT_SECRET_FROM_ENV?: boolean;
};

export type CreateOptions = {
  /** The backup root; default BACKUP_DIR, or DATA_DIR/backups. */
  root?: string;
  /** After success, keep only the newest `keep` complete backups of the root. */
  keep?: number;
  /** Aborting stops the backup between files and removes what it wrote. */
  signal?: AbortSignal;
  now?: () => number;
};

export type CreateResult = { dir: string; manifest: Manifest; pruned: string[] };

export class BackupError extends Error {
  override name = "BackupError";
}

export const backupRoot = (config: Pick<Config, "DATA_DIR" | "BACKUP_DIR">) => resolve(config.BACKUP_DIR ?? join(config.DATA_DIR, "backups"));

const inside = (child: string, parent: string) => child === parent || child.startsWith(parent + sep);

/** A backup's directory name: its start time, sortable (`sidechain-backup-2025-01-31T03-00-00-000Z`). */
const nameFor = (ms: number) => NAME_PREFIX + new Date(ms).toISOString().replace(/[:.]/g, "-");

/** Writes the file's bytes to `to` while hashing them: one read for a file that is copied. */
export async function copyHashed(from: string, to: string): Promise<{ sha256: string; size: number }> {
  const hasher = new Bun.CryptoHasher("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hasher.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(from, { highWaterMark: 1 << 20 }), tap, createWriteStream(to, { flags: "wx" }));
  return { sha256: hasher.digest("hex"), size };
}

async function fsync(path: string) {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Partial directories in `root` left by a process of this host that is gone (a killed backup). */
async function removeStalePartials(root: string) {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, "_");
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const m = new RegExp(`^${PARTIAL_PREFIX.replace(".", "\\.")}.*@(.+)-(\\d+)$`).exec(name);
    if (!m || m[1] !== host) continue;
    const pid = Number(m[2]);
    let running = pid === process.pid;
    if (!running) {
      try {
        process.kill(pid, 0);
        running = true;
      } catch (err) {
        running = (err as NodeJS.ErrnoException).code === "EPERM";
      }
    }
    if (!running) await rm(join(root, name), { recursive: true, force: true });
  }
}

/** Copies the SQLite database into `to` as of one instant, checks the copy, and reads its schema version. */
function snapshotSqlite(from: string, to: string, busyTimeoutMs: number): Extract<Manifest["database"], { kind: "sqlite" }> {
  if (!existsSync(from)) throw new BackupError(`there is no database at ${from} (DATA_DIR or DATABASE_URL points elsewhere?)`);
  const source = new SQLite(from, { readwrite: true, create: false });
  try {
    source.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    source.query("VACUUM INTO ?").run(to);
  } finally {
    source.close();
  }
  const copy = new SQLite(to, { readonly: true });
  try {
    const check = copy.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    if (check.length !== 1 || check[0]!.integrity_check !== "ok")
      throw new BackupError(`the copy of the database fails its integrity check: ${check.map((r) => r.integrity_check).join("; ")}`);
    const hasTable = copy.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
    const rows = hasTable
      ? copy.query<{ hash: string; created_at: number }, []>("SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at").all()
      : [];
    const last = rows.at(-1);
    return {
      kind: "sqlite",
      file: DB_FILE,
      migrations: rows.length,
      lastMigration: last ? { createdAt: Number(last.created_at), hash: last.hash } : null,
      integrity: "ok",
    };
  } finally {
    copy.close();
  }
}

export async function createBackup(config: BackupConfig, opts: CreateOptions = {}): Promise<CreateResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  const dataDir = resolve(config.DATA_DIR);
  const mediaRoot = join(dataDir, MEDIA_DIR);
  const root = resolve(opts.root ?? backupRoot(config));
  if (inside(root, mediaRoot)) throw new BackupError(`the backup directory ${root} is inside the media directory ${mediaRoot}; choose another`);
  await mkdir(root, { recursive: true, mode: 0o700 });
  await removeStalePartials(root);

  let name = nameFor(started);
  for (let i = 2; existsSync(join(root, name)); i++) name = `${nameFor(started)}-${i}`;
  const tmp = join(root, `${PARTIAL_PREFIX}${name}@${hostname().replace(/[^A-Za-z0-9._-]/g, "_")}-${process.pid}`);
  await mkdir(tmp, { mode: 0o700 });
  const aborted = () => {
    if (opts.signal?.aborted) throw new BackupError(`the backup was stopped (${String(opts.signal.reason ?? "aborted")})`);
  };
  try {
    const files: ManifestFile[] = [];
    const notIncluded: NotIncluded[] = [];

    // 1. The database, first (see the top of this file).
    const dbPath = sqlitePath(config);
    let database: Manifest["database"];
    if (dbPath) {
      database = snapshotSqlite(dbPath, join(tmp, DB_FILE), config.DB_BUSY_TIMEOUT_MS);
      await fsync(join(tmp, DB_FILE));
      files.push({ path: DB_FILE, ...(await hashFile(join(tmp, DB_FILE))) });
    } else {
      database = { kind: "libsql", file: null };
      notIncluded.push({
        what: "database",
        why:
          "DATABASE_URL names a libSQL server: its data live there and are backed up by its operator " +
          "(sqld's snapshots or bottomless replication, Turso's point-in-time restore); see the README, Backups",
      });
    }
    aborted();

    // 2. The secrets file (the token signing key): without it every session and token of the restored server is void.
    const secrets = join(dataDir, SECRETS_FILE);
    if (existsSync(secrets)) {
      await copyFile(secrets, join(tmp, SECRETS_FILE));
      await chmod(join(tmp, SECRETS_FILE), 0o600);
      files.push({ path: SECRETS_FILE, ...(await hashFile(join(tmp, SECRETS_FILE))) });
    }
    if (config.JWT_SECRET_FROM_ENV)
      notIncluded.push({ what: "JWT_SECRET", why: "set in the environment, not in DATA_DIR: keep it with the server's configuration" });

    // 3. Media on local disk (DATA_DIR/media without its .tmp), linked from the previous backup when unchanged.
    const previousName = (await listBackups(root)).at(-1) ?? null;
    const previous = new Map<string, ManifestFile>();
    if (previousName) {
      try {
        for (const f of (await readManifest(join(root, previousName))).files) previous.set(f.path, f);
      } catch {
        /* an unreadable previous manifest: copy everything */
      }
    }
    const media = { driver: config.STORAGE ?? "local", files: 0, bytes: 0, copied: 0, linked: 0, previous: previousName };
    if (media.driver === "s3")
      notIncluded.push({
        what: "media in S3",
        why: "STORAGE=s3: loops, pictures and cards live in the bucket; protect it with the provider's versioning or replication (see the README, Backups)",
      });
    const mediaFiles = await listFiles(mediaRoot, (rel) => rel === ".tmp");
    let vanished = 0;
    for (const rel of mediaFiles) {
      aborted();
      const path = `${MEDIA_DIR}/${rel}`;
      const from = join(mediaRoot, rel);
      const to = join(tmp, path);
      await mkdir(dirname(to), { recursive: true });
      let st: Stats;
      try {
        st = await stat(from);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          vanished++;
          continue;
        }
        throw err;
      }
      const before = previous.get(path);
      let entry: ManifestFile | undefined;
      try {
        if (before && before.size === st.size) {
          const current = await hashFile(from);
          if (current.sha256 === before.sha256) {
            try {
              await link(join(root, previousName!, path), to);
              media.linked++;
            } catch {
              await copyFile(from, to);
              media.copied++;
            }
            entry = { path, ...current };
          }
        }
        if (!entry) {
          entry = { path, ...(await copyHashed(from, to)) };
          media.copied++;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT" && !existsSync(from)) {
          vanished++; // deleted while we read it: its post was deleted after the database copy
          await rm(to, { force: true });
          continue;
        }
        throw err;
      }
      files.push(entry);
      media.files++;
      media.bytes += entry.size;
    }
    if (vanished) notIncluded.push({ what: `${vanished} media file${vanished === 1 ? "" : "s"}`, why: "deleted while the backup ran" });
    aborted();

    const finished = now();
    const manifest: Manifest = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      app: { version: pkg.version },
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - started,
      database,
      media,
      notIncluded,
      files,
    };
    await Bun.write(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    await fsync(join(tmp, MANIFEST));
    aborted();
    const dir = join(root, name);
    await rename(tmp, dir);
    await fsync(root).catch(() => undefined); // the rename itself durable, where directories can be synced
    const pruned = opts.keep ? await pruneBackups(root, opts.keep) : [];
    return { dir, manifest, pruned };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Deletes the oldest complete backups of `root` beyond the newest `keep`; returns their names. */
export async function pruneBackups(root: string, keep: number): Promise<string[]> {
  const all = await listBackups(root);
  const old = all.slice(0, Math.max(0, all.length - keep));
  for (const name of old) await rm(join(root, name), { recursive: true, force: true });
  return old;
}

/** For messages: a path relative to the working directory when that is shorter. */
export const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && rel.length < path.length ? rel : path;
};

// `sidechain backup restore DIR` (README "Backups"): puts a verified backup into an empty DATA_DIR. Refuses a
// DATA_DIR that holds anything or that a server uses (src/backup/in-use.ts), and a backup whose database schema is
// newer than this binary's. While it runs, its own marker makes a server refuse to start on the directory. Every
// file is written with an exclusive create and its checksum compared again as it is copied; on any failure what it
// wrote is removed, leaving the directory empty as it found it.
import { chmod, mkdir, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Config } from "../config.ts";
import { MIGRATIONS } from "../db/migrate.ts";
import { BackupError, copyHashed } from "./create.ts";
import { sqlitePath } from "../db/client.ts";
import { describeMarkers, IN_USE_DIR, liveMarkers, markInUse } from "./in-use.ts";
import { DB_FILE, type Manifest, MEDIA_DIR, SECRETS_FILE } from "./manifest.ts";
import { verifyBackup } from "./verify.ts";

export type RestoreResult = { dataDir: string; manifest: Manifest; files: number; bytes: number; notes: string[] };

/** What is in `dataDir` besides the in-use markers; throws when a live process uses it. */
async function contentsOf(dataDir: string, own?: string): Promise<string[]> {
  const live = liveMarkers(dataDir).filter((m) => m.file !== own);
  if (live.length) throw new BackupError(`DATA_DIR ${dataDir} is in use: ${describeMarkers(live)}. Stop the server first`);
  const names = await readdir(dataDir).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [] as string[];
    throw err;
  });
  return names.filter((n) => n !== IN_USE_DIR);
}

export async function restoreBackup(dir: string, config: Pick<Config, "DATA_DIR" | "DATABASE_URL">): Promise<RestoreResult> {
  const dataDir = resolve(config.DATA_DIR);
  const present = await contentsOf(dataDir);
  if (present.length)
    throw new BackupError(
      `DATA_DIR ${dataDir} is not empty (${present.slice(0, 5).join(", ")}${present.length > 5 ? ", …" : ""}); restore only into an empty directory`,
    );
  const verified = await verifyBackup(dir);
  if (!verified.ok) throw new BackupError(`the backup in ${verified.dir} does not verify, nothing was restored:\n  ${verified.problems.join("\n  ")}`);
  const manifest = verified.manifest!;
  if (manifest.database.kind === "sqlite") {
    const known = new Set(MIGRATIONS.map((m) => m.hash));
    const last = manifest.database.lastMigration;
    if (manifest.database.migrations > MIGRATIONS.length || (last && !known.has(last.hash)))
      throw new BackupError(`the backup's database was made by a newer Sidechain (${manifest.app.version}); restore it with that version or a later one`);
  }
  const notes: string[] = [];
  const dbTarget = sqlitePath(config);
  if (manifest.database.kind === "sqlite" && dbTarget && existsSync(dbTarget))
    throw new BackupError(`${dbTarget} (DATABASE_URL) already exists; restore only where no database is`);

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const marker = markInUse(dataDir, "restore");
  const written: string[] = [];
  let wroteMedia = false;
  try {
    // A server started in the meantime would have left a marker or files: give up rather than mix.
    const now = await contentsOf(dataDir, marker.file).catch((err) => {
      throw new BackupError((err as Error).message);
    });
    if (now.length) throw new BackupError(`DATA_DIR ${dataDir} was written to while the restore began (${now.join(", ")}); nothing was restored`);
    let bytes = 0;
    // Secrets first: a server started by mistake during the restore then finds them instead of making new ones.
    const order = [...manifest.files].sort((a, b) => rank(a.path) - rank(b.path));
    for (const f of order) {
      let to: string;
      if (f.path === DB_FILE) {
        to = dbTarget ?? join(dataDir, DB_FILE);
        if (!dbTarget)
          notes.push(`DATABASE_URL names a libSQL server: the backup's database was put in ${to}; load it into that server, or unset DATABASE_URL`);
      } else to = join(dataDir, f.path);
      if (f.path.startsWith(`${MEDIA_DIR}/`)) wroteMedia = true;
      await mkdir(dirname(to), { recursive: true });
      written.push(to);
      const copied = await copyHashed(join(verified.dir, f.path), to);
      if (copied.sha256 !== f.sha256 || copied.size !== f.size) throw new BackupError(`${f.path} changed while it was restored; nothing was restored`);
      if (f.path === SECRETS_FILE || f.path === DB_FILE) await chmod(to, 0o600);
      bytes += f.size;
    }
    if (manifest.database.kind === "libsql")
      notes.push("the backup holds no database (it was on a libSQL server): the server must be given that database again (DATABASE_URL)");
    for (const n of manifest.notIncluded) if (n.what !== "database") notes.push(`not in the backup: ${n.what} (${n.why})`);
    return { dataDir, manifest, files: order.length, bytes, notes };
  } catch (err) {
    for (const path of written.reverse()) await rm(path, { force: true });
    if (wroteMedia) await rm(join(dataDir, MEDIA_DIR), { recursive: true, force: true }); // it was not there before
    throw err;
  } finally {
    marker.release();
  }
}

const rank = (path: string) => (path === SECRETS_FILE ? 0 : path === DB_FILE ? 1 : 2);

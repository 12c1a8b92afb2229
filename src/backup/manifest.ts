// What a backup directory holds and how it describes itself (README "Backups"): manifest.json lists every file
// with its size and SHA-256, the schema and app versions, the times, and what was not included and why. The
// manifest is written last and the directory renamed into place after it, so a directory without one is never a
// complete backup.
import { createReadStream } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export const MANIFEST = "manifest.json";
export const FORMAT = "sidechain-backup";
export const FORMAT_VERSION = 1;
/** Complete backups are directories named like this; a backup being written has the PARTIAL prefix. */
export const NAME_PREFIX = "sidechain-backup-";
export const PARTIAL_PREFIX = ".partial-";
export const DB_FILE = "sidechain.db";
export const SECRETS_FILE = "secrets.json";
export const MEDIA_DIR = "media";

export type ManifestFile = {
  /** Relative to the backup directory, with "/" separators. */
  path: string;
  size: number;
  sha256: string;
};

export type NotIncluded = { what: string; why: string };

export type Manifest = {
  format: typeof FORMAT;
  formatVersion: number;
  app: { version: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  database:
    | { kind: "sqlite"; file: string; migrations: number; lastMigration: { createdAt: number; hash: string } | null; integrity: "ok" }
    | { kind: "libsql"; file: null };
  media: { driver: "local" | "s3"; files: number; bytes: number; copied: number; linked: number; previous: string | null };
  notIncluded: NotIncluded[];
  files: ManifestFile[];
};

/** SHA-256 (hex) and size of a file, read as a stream. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hasher = new Bun.CryptoHasher("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hasher.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hasher.digest("hex"), size };
}

/** Every regular file under `dir`, as paths relative to it with "/" separators (sorted, so manifests diff well). */
export async function listFiles(dir: string, skip: (relative: string) => boolean = () => false): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (skip(path)) continue;
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) out.push(path);
    }
  };
  await walk("");
  return out.sort();
}

/** Reads and checks the shape of a backup's manifest; throws with a sentence when it is not one. */
export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`${dir} has no ${MANIFEST}: it is not a complete backup`);
    throw err;
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new Error(`${join(dir, MANIFEST)} is not valid JSON`);
  }
  if (m?.format !== FORMAT || !Array.isArray(m.files) || !m.database || !m.media) throw new Error(`${join(dir, MANIFEST)} is not a Sidechain backup manifest`);
  if (m.formatVersion !== FORMAT_VERSION) throw new Error(`${join(dir, MANIFEST)} has format version ${m.formatVersion}; this version reads ${FORMAT_VERSION}`);
  return m;
}

/** The complete backups in `root` (directories named NAME_PREFIX… holding a manifest), oldest first. */
export async function listBackups(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const complete: string[] = [];
  for (const name of names.filter((n) => n.startsWith(NAME_PREFIX)).sort()) {
    if (await Bun.file(join(root, name, MANIFEST)).exists()) complete.push(name);
  }
  return complete;
}

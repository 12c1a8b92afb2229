// Local disk driver: objects are files under DATA_DIR/media/<key>, served by the app at /media/<key>
// (src/media/routes.ts). Writes are atomic: a temp file in DATA_DIR/media/.tmp (same filesystem), fsync, rename.
import { randomBytes } from "node:crypto";
import type { Dirent, Stats } from "node:fs";
import { copyFile, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { ByteRange, ObjectBody, ObjectInfo, PutBody, PutOptions, Storage } from "./types.ts";
import { StorageKeyError, assertValidKey, assertValidPrefix, contentTypeOf, resolveContentType } from "./keys.ts";

export type LocalStorageOptions = {
  /** The media root, normally `${DATA_DIR}/media`; created on first write. */
  dir: string;
  /** Origin of the server (PUBLIC_URL); object URLs are `${publicUrl}/media/<key>`. */
  publicUrl: string;
};

// Temp files left by a crash mid-write are removed after this long (a live write never takes an hour).
const STALE_TEMP_MS = 60 * 60 * 1000;

export function createLocalStorage(opts: LocalStorageOptions): Storage {
  const root = resolve(opts.dir);
  // ".tmp" can never be a key or a prefix (segments start with a letter or digit), so no request reaches it.
  const tmpDir = join(root, ".tmp");
  const base = opts.publicUrl.replace(/\/+$/, "");

  /** The file of a key. The key rules already exclude "..", "/" at the start and every odd byte; the prefix
   *  check is defence in depth so a future change to the rules can never reach outside the media root. */
  function pathOf(key: string): string {
    assertValidKey(key);
    const path = join(root, key);
    if (!path.startsWith(root + sep)) throw new StorageKeyError(`storage key escapes the media root: ${key}`);
    return path;
  }

  function infoOf(key: string, st: Stats): ObjectInfo {
    // Keys are never rewritten in place (new content gets a new key), so inode + size + mtime identify the
    // content as well as a hash would, without reading the file (nginx makes the same choice).
    const etag = `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.trunc(st.mtimeMs).toString(16)}"`;
    return { key, size: st.size, contentType: contentTypeOf(key), etag };
  }

  /** Removes now-empty directories from `dir` up to (not including) the root; stops at the first non-empty one. */
  async function prune(dir: string) {
    while (dir.startsWith(root + sep)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or already gone, or raced with a put): leave it
      }
      dir = dirname(dir);
    }
  }

  async function writeTemp(tmp: string, body: PutBody) {
    if (body instanceof Uint8Array || body instanceof Blob) {
      await Bun.write(tmp, body);
    } else if (body && typeof (body as { path?: unknown }).path === "string") {
      await copyFile((body as { path: string }).path, tmp);
    } else {
      // A bare string is refused on purpose: it could be meant as content (JSON, SVG) or as a path.
      throw new TypeError("put body must be a Uint8Array, a Blob or { path }");
    }
    // fsync before the rename: after a crash the key holds the old object or the whole new one, never a torn file.
    const fh = await open(tmp, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async function moveInto(tmp: string, target: string) {
    for (let attempt = 0; ; attempt++) {
      await mkdir(dirname(target), { recursive: true });
      try {
        await rename(tmp, target);
        return;
      } catch (err) {
        // A concurrent delete may prune the fresh directory between mkdir and rename: make it again.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 3) throw err;
      }
    }
  }

  async function statFile(path: string): Promise<Stats | null> {
    try {
      const st = await stat(path);
      return st.isFile() ? st : null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw err;
    }
  }

  async function unlinkQuiet(path: string) {
    try {
      await unlink(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
    }
  }

  async function sweepTemp() {
    const names = await readdir(tmpDir).catch(() => [] as string[]);
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of names) {
      const p = join(tmpDir, name);
      const st = await stat(p).catch(() => null);
      if (st && st.mtimeMs < cutoff) await rm(p, { force: true }).catch(() => undefined);
    }
  }
  void sweepTemp().catch(() => undefined);

  const storage: Storage = {
    driver: "local",

    async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<ObjectInfo> {
      resolveContentType(key, opts.contentType); // refuses a type that contradicts the key
      const target = pathOf(key);
      await mkdir(tmpDir, { recursive: true });
      const tmp = join(tmpDir, `${randomBytes(12).toString("hex")}.part`);
      try {
        await writeTemp(tmp, body);
        await moveInto(tmp, target);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      return infoOf(key, await stat(target));
    },

    async get(key: string, range?: ByteRange): Promise<ObjectBody | null> {
      const path = pathOf(key);
      const st = await statFile(path);
      if (!st) return null;
      const info = infoOf(key, st);
      if (range && !(range.start >= 0 && range.start <= range.end && range.end < st.size)) {
        throw new RangeError(`range ${range.start}-${range.end} is outside ${key} (${st.size} bytes)`);
      }
      // Bun.file reads lazily; keys are immutable, so the stat above describes what the stream returns.
      const file = Bun.file(path);
      const part = range ? file.slice(range.start, range.end + 1) : file;
      return { ...info, body: part.stream(), range, length: range ? range.end - range.start + 1 : st.size };
    },

    async head(key: string): Promise<ObjectInfo | null> {
      const st = await statFile(pathOf(key));
      return st ? infoOf(key, st) : null;
    },

    async exists(key: string): Promise<boolean> {
      return (await statFile(pathOf(key))) !== null;
    },

    async delete(key: string): Promise<void> {
      const path = pathOf(key);
      await unlinkQuiet(path);
      await prune(dirname(path));
    },

    async deleteMany(keys: readonly string[]): Promise<void> {
      const paths = keys.map(pathOf); // all keys checked before anything is deleted
      await Promise.all(paths.map(unlinkQuiet));
      for (const dir of new Set(paths.map((p) => dirname(p)))) await prune(dir);
    },

    async deletePrefix(prefix: string): Promise<number> {
      assertValidPrefix(prefix);
      const dir = join(root, prefix);
      if (!dir.startsWith(root + sep)) throw new StorageKeyError(`storage prefix escapes the media root: ${prefix}`);
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { recursive: true, withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return 0;
        throw err;
      }
      // rm does not follow symbolic links; there are none under the root anyway (we only create files and dirs).
      await rm(dir, { recursive: true, force: true });
      await prune(dirname(dir));
      return entries.filter((e) => e.isFile()).length;
    },

    async url(key: string): Promise<string> {
      assertValidKey(key);
      return `${base}/media/${key}`; // key characters need no escaping
    },

    async ready(): Promise<void> {
      await mkdir(tmpDir, { recursive: true });
      const probe = join(tmpDir, `ready-${randomBytes(6).toString("hex")}.part`);
      await Bun.write(probe, "ok");
      await unlink(probe);
    },

    async close(): Promise<void> {},
  };
  return storage;
}

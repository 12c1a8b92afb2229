// `sidechain backup verify DIR` (README "Backups"): reads every file the manifest lists and compares its size and
// SHA-256, opens the database copy and runs `PRAGMA integrity_check`, and finds files the manifest does not list.
// Restore runs the same check first.
import { Database as SQLite } from "bun:sqlite";
import { stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { DB_FILE, hashFile, listFiles, MANIFEST, type Manifest, PARTIAL_PREFIX, readManifest } from "./manifest.ts";

export type VerifyResult = { ok: boolean; dir: string; manifest: Manifest | null; problems: string[]; checked: number; bytes: number };

/** Checks the backup in `dir`. Never throws for a damaged backup: what is wrong is in `problems`. */
export async function verifyBackup(dirArg: string): Promise<VerifyResult> {
  const dir = resolve(dirArg);
  const result: VerifyResult = { ok: false, dir, manifest: null, problems: [], checked: 0, bytes: 0 };
  if (basename(dir).startsWith(PARTIAL_PREFIX)) {
    result.problems.push(`${dir} is a backup that was never finished (its name starts with "${PARTIAL_PREFIX}")`);
    return result;
  }
  try {
    result.manifest = await readManifest(dir);
  } catch (err) {
    result.problems.push((err as Error).message);
    return result;
  }
  const m = result.manifest;
  const listed = new Set<string>();
  for (const f of m.files) {
    if (typeof f.path !== "string" || f.path.split("/").some((s) => s === ".." || s === "") || f.path.startsWith("/")) {
      result.problems.push(`the manifest lists an unsafe path ${JSON.stringify(f.path)}`);
      continue;
    }
    listed.add(f.path);
    const path = join(dir, f.path);
    try {
      const st = await stat(path);
      if (!st.isFile()) {
        result.problems.push(`${f.path}: not a file`);
        continue;
      }
      if (st.size !== f.size) {
        result.problems.push(`${f.path}: ${st.size} bytes, the manifest says ${f.size}`);
        continue;
      }
      const { sha256 } = await hashFile(path);
      if (sha256 !== f.sha256) result.problems.push(`${f.path}: its SHA-256 is ${sha256}, the manifest says ${f.sha256}`);
      result.checked++;
      result.bytes += f.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") result.problems.push(`${f.path}: missing`);
      else result.problems.push(`${f.path}: cannot be read (${(err as Error).message})`);
    }
  }
  for (const extra of await listFiles(dir)) {
    if (extra !== MANIFEST && !listed.has(extra)) result.problems.push(`${extra}: not in the manifest`);
  }
  if (m.database.kind === "sqlite") {
    if (!listed.has(DB_FILE)) result.problems.push(`the manifest lists no ${DB_FILE}`);
    else if (!result.problems.some((p) => p.startsWith(`${DB_FILE}:`))) {
      try {
        const db = new SQLite(join(dir, DB_FILE), { readonly: true });
        try {
          const rows = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
          if (rows.length !== 1 || rows[0]!.integrity_check !== "ok")
            result.problems.push(`${DB_FILE}: integrity check failed: ${rows.map((r) => r.integrity_check).join("; ")}`);
        } finally {
          db.close();
        }
      } catch (err) {
        result.problems.push(`${DB_FILE}: cannot be opened as a SQLite database (${(err as Error).message})`);
      }
    }
  }
  result.ok = result.problems.length === 0;
  return result;
}

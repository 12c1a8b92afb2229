// `sidechain backup create|verify|restore` (README "Backups"). Same configuration as the server (DATA_DIR,
// DATABASE_URL, STORAGE, BACKUP_DIR), read without touching DATA_DIR: no migration, no secrets file made. `create`
// runs while the server runs; `restore` refuses while one does.
import { setPriority } from "node:os";
import { basename, join } from "node:path";
import { ConfigError, parseEnv } from "../config.ts";
import { errorMessage } from "../log.ts";
import { backupRoot, createBackup, shown } from "./create.ts";
import { listBackups } from "./manifest.ts";
import { restoreBackup } from "./restore.ts";
import { verifyBackup } from "./verify.ts";

export const BACKUP_USAGE = `  sidechain backup create [DIR] [--keep N] [--json]
                                     back up the database, local media and secrets into a new directory under
                                     DIR (default BACKUP_DIR); --keep N then deletes all but the newest N there
  sidechain backup verify DIR        check a backup: every file's size and SHA-256, and the database's integrity
  sidechain backup restore DIR       restore a backup into an empty DATA_DIR (refused while a server uses it)`;

type Output = { out(line: string): void; err(line: string): void };
type Env = Record<string, string | undefined>;

const mb = (bytes: number) =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
const count = (n: number, what: string) => `${n.toLocaleString("en")} ${what}${n === 1 ? "" : "s"}`;

export async function backupCommand(args: string[], env: Env, io: Output): Promise<number> {
  const [sub, ...rest] = args;
  const usage = (problem: string) => {
    io.err(`sidechain backup: ${problem}\n\nUsage:\n${BACKUP_USAGE}`);
    return 2;
  };
  let config: ReturnType<typeof parseEnv>;
  try {
    config = parseEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`sidechain: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (sub === "create") {
    let dir: string | undefined;
    let keep: number | undefined;
    let json = false;
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i]!;
      const value = arg.startsWith("--keep=") ? arg.slice("--keep=".length) : arg === "--keep" ? (rest[++i] ?? "") : undefined;
      if (value !== undefined) {
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) return usage(`--keep wants a whole number from 1 to 1000, not "${value}"`);
        keep = Number(value);
      } else if (arg === "--json") json = true;
      else if (arg.startsWith("-")) return usage(`unknown option "${arg}"`);
      else if (dir === undefined) dir = arg;
      else return usage(`give one directory, not "${dir}" and "${arg}"`);
    }
    // A backup is background work: it yields the CPU to the server it runs beside.
    try {
      setPriority(10);
    } catch {
      /* not allowed here: run at the normal priority */
    }
    try {
      const {
        dir: made,
        manifest: m,
        pruned,
      } = await createBackup({ ...config, JWT_SECRET_FROM_ENV: Boolean(config.JWT_SECRET) }, { root: dir ?? backupRoot(config), keep });
      if (json) {
        const { files, bytes, copied, linked } = m.media;
        io.out(
          JSON.stringify({
            dir: made,
            files: m.files.length,
            bytes: m.files.reduce((s, f) => s + f.size, 0),
            media: files,
            mediaBytes: bytes,
            copied,
            linked,
            durationMs: m.durationMs,
            pruned,
          }),
        );
        return 0;
      }
      io.out(`Backup written to ${shown(made)} in ${(m.durationMs / 1000).toFixed(1)} s`);
      if (m.database.kind === "sqlite") {
        const db = m.files.find((f) => f.path === m.database.file)!;
        io.out(`  database  ${m.database.file}, ${mb(db.size)}, ${count(m.database.migrations, "migration")}, integrity ok`);
      } else io.out("  database  not included (libSQL server)");
      io.out(`  secrets   ${m.files.some((f) => f.path === "secrets.json") ? "secrets.json" : "none in DATA_DIR"}`);
      const from = m.media.previous ? `, ${m.media.linked.toLocaleString("en")} unchanged linked from ${m.media.previous}` : "";
      io.out(`  media     ${count(m.media.files, "file")}, ${mb(m.media.bytes)} (${m.media.copied.toLocaleString("en")} copied${from})`);
      for (const n of m.notIncluded) io.out(`  not included: ${n.what}: ${n.why}`);
      for (const p of pruned) io.out(`  deleted the older backup ${p} (--keep ${keep})`);
      return 0;
    } catch (err) {
      io.err(`sidechain backup create: failed, nothing was kept: ${errorMessage(err)}`);
      return 1;
    }
  }
  if (sub === "verify" || sub === "restore") {
    const positional = rest.filter((a) => !a.startsWith("-"));
    const option = rest.find((a) => a.startsWith("-"));
    if (option) return usage(`unknown option "${option}"`);
    if (positional.length !== 1) return usage(`give the backup's directory, like: sidechain backup ${sub} ${join(backupRoot(config), "sidechain-backup-…")}`);
    const dir = positional[0]!;
    const hint = async () => {
      const inside = await listBackups(dir).catch(() => []);
      return inside.length ? `\n${dir} holds backups; give one of them, e.g. ${join(dir, inside.at(-1)!)}` : "";
    };
    if (sub === "verify") {
      const r = await verifyBackup(dir);
      if (r.ok) {
        const db = r.manifest!.database.kind === "sqlite" ? "; database integrity ok" : "; no database (libSQL server)";
        io.out(`OK: ${shown(r.dir)}: ${count(r.checked, "file")}, ${mb(r.bytes)}, every checksum matches${db}`);
        io.out(`  made ${r.manifest!.finishedAt} by Sidechain ${r.manifest!.app.version}`);
        return 0;
      }
      io.err(`FAILED: ${shown(r.dir)}: ${count(r.problems.length, "problem")}:`);
      for (const p of r.problems) io.err(`  - ${p}`);
      const more = await hint();
      if (more) io.err(more.trim());
      return 1;
    }
    try {
      const r = await restoreBackup(dir, config);
      io.out(`Restored ${basename(dir)} into ${r.dataDir}: ${count(r.files, "file")}, ${mb(r.bytes)}`);
      for (const n of r.notes) io.out(`  note: ${n}`);
      io.out("Start the server on this DATA_DIR (same configuration) to use it.");
      return 0;
    } catch (err) {
      io.err(`sidechain backup restore: ${errorMessage(err)}${await hint()}`);
      return 1;
    }
  }
  return usage(sub ? `unknown subcommand "${sub}"` : "say create, verify or restore");
}

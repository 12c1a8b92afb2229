// Marks a DATA_DIR as in use, so `sidechain backup restore` refuses a directory a server runs on, and a server
// refuses to start on a directory a restore is filling (README "Backups"). Each process writes its own marker,
// DATA_DIR/.in-use/<kind>-<hostname>-<pid>-<random>.json, and removes it when it stops; several servers may share one
// DATA_DIR, so there is one marker per process rather than one lock for all.
//
// Why pid files and not an OS lock: Bun has no flock/fcntl lock without FFI, and an advisory lock on a network
// filesystem is unreliable anyway. A marker left by a process that died (kill -9, power loss) is recognised as stale
// when it names this host and its pid is no longer running (`kill(pid, 0)`), and removed. A marker from another host
// (a container with another hostname, NFS) cannot be checked from here and counts as live: the message names the
// file, and the operator deletes it once that server is down.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

export const IN_USE_DIR = ".in-use";

export type MarkerKind = "server" | "restore";
export type Marker = { kind: MarkerKind; pid: number; hostname: string; startedAt: string; file: string };

/** Whether the process a marker names still runs (or cannot be checked from this host). */
function alive(marker: Pick<Marker, "pid" | "hostname">): boolean {
  if (marker.hostname !== hostname()) return true;
  if (marker.pid === process.pid) return true;
  try {
    process.kill(marker.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // runs, as another user
  }
}

/** The live markers in `dataDir`; stale ones (a dead process on this host) are removed on the way. */
export function liveMarkers(dataDir: string): Marker[] {
  const dir = join(dataDir, IN_USE_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const live: Marker[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let marker: Marker;
    try {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as Omit<Marker, "file">;
      marker = { ...parsed, file };
      if (typeof marker.pid !== "number" || typeof marker.hostname !== "string") throw new Error("not a marker");
    } catch {
      // Being written right now (or damaged): count it as live rather than guess.
      live.push({ kind: "server", pid: 0, hostname: "?", startedAt: "?", file });
      continue;
    }
    if (alive(marker)) live.push(marker);
    else {
      try {
        unlinkSync(file);
      } catch {
        /* another process removed it first */
      }
    }
  }
  if (live.length === 0) {
    try {
      rmdirSync(dir);
    } catch {
      /* not empty after all, or gone */
    }
  }
  return live;
}

/** One line per marker, for error messages. */
export function describeMarkers(markers: Marker[]): string {
  return markers
    .map((m) => (m.pid ? `${m.kind} pid ${m.pid} on ${m.hostname} since ${m.startedAt} (${m.file})` : `an unreadable marker (${m.file})`))
    .join("; ");
}

/** Writes this process's marker; `release` removes it (idempotent). */
export function markInUse(dataDir: string, kind: MarkerKind): { file: string; release(): void } {
  const dir = join(dataDir, IN_USE_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${kind}-${hostname().replace(/[^A-Za-z0-9._-]/g, "_")}-${process.pid}-${Bun.randomUUIDv7().slice(-8)}.json`);
  writeFileSync(file, JSON.stringify({ kind, pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() }), { mode: 0o600 });
  let removed = false;
  const release = () => {
    if (removed) return;
    removed = true;
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
    try {
      rmdirSync(dir);
    } catch {
      /* other processes' markers remain */
    }
  };
  return { file, release };
}

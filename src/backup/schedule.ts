// Scheduled backups by the running server (BACKUP_SCHEDULE, BACKUP_KEEP; README "Backups").
//
// Each instance computes the same slots from the clock (src/backup/schedule-spec.ts) and, when one comes, enqueues a
// durable `backup` job whose dedupe key names the slot (`backup:<slot time>`): however many instances share the
// database, the slot has one job, which one of them runs. The job runs `sidechain backup create ROOT --keep N` as a
// child process of the same program, at a lower CPU priority: the database copy (`VACUUM INTO`) is synchronous in
// bun:sqlite and would otherwise hold this process's event loop for its whole duration, and the child's memory goes
// away with it. Aborting the job (timeout, shutdown) kills the child, and the next backup in that root removes the
// partial directory it left. A slot missed while no instance ran is not made up; the next one is taken.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Deps } from "../deps.ts";
import { errorFields } from "../log.ts";
import { backupRoot } from "./create.ts";
import { type BackupSchedule, nextBackupSlot, parseBackupSchedule } from "./schedule-spec.ts";

export const BACKUP_JOB = "backup";
/** A backup of a large community may take a while; its own bound instead of JOB_TIMEOUT_MS. */
export const BACKUP_TIMEOUT_MS = 6 * 3_600_000;

/** The command that runs this same program: the compiled binary itself, or Bun with src/index.ts. */
export function selfCommand(): string[] {
  const entry = join(import.meta.dir, "..", "index.ts");
  const compiled = import.meta.dir.startsWith("/$bunfs") || import.meta.dir.includes("~BUN");
  return !compiled && existsSync(entry) ? [process.execPath, entry] : [process.execPath];
}

/** Whether BACKUP_SCHEDULE asks for backups (config.ts has refused a value that does not parse). */
export const backupsScheduled = (config: Pick<Deps["config"], "BACKUP_SCHEDULE">) => {
  const parsed = parseBackupSchedule(config.BACKUP_SCHEDULE);
  return typeof parsed !== "string" && parsed.kind !== "off";
};

/** What the job stores as its result: where the backup went and what it holds (the child's --json summary). */
type Summary = { dir: string; files: number; bytes: number; copied: number; linked: number; durationMs: number; pruned: string[] };

export function registerBackupJob(deps: Deps) {
  const { config } = deps;
  deps.jobs.register(
    BACKUP_JOB,
    async (job, ctx) => {
      const root = backupRoot(config);
      const env: Record<string, string> = {
        ...(process.env as Record<string, string>),
        DATA_DIR: config.DATA_DIR,
        DB_BUSY_TIMEOUT_MS: String(config.DB_BUSY_TIMEOUT_MS),
        STORAGE: config.STORAGE,
        LOG_LEVEL: "error",
      };
      if (config.DATABASE_URL) env.DATABASE_URL = config.DATABASE_URL;
      else delete env.DATABASE_URL;
      const child = Bun.spawn([...selfCommand(), "backup", "create", root, "--keep", String(config.BACKUP_KEEP), "--json"], {
        env,
        stdout: "pipe",
        stderr: "pipe",
      });
      const kill = () => child.kill("SIGTERM");
      ctx.signal.addEventListener("abort", kill, { once: true });
      try {
        const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (code !== 0) throw new Error(`backup create exited with ${code}: ${err.trim().split("\n").slice(-3).join(" ") || "no message"}`);
        const summary = JSON.parse(out.trim().split("\n").at(-1)!) as Summary;
        ctx.log.info("scheduled backup written", {
          slot: job.payload.slot,
          dir: summary.dir,
          files: summary.files,
          bytes: summary.bytes,
          copied: summary.copied,
          linked: summary.linked,
          duration_ms: summary.durationMs,
          pruned: summary.pruned.length,
        });
        return summary;
      } finally {
        ctx.signal.removeEventListener("abort", kill);
      }
    },
    { timeoutMs: BACKUP_TIMEOUT_MS, concurrency: 1 },
  );
}

export type BackupScheduler = {
  readonly schedule: BackupSchedule;
  /** When the next slot is due (ms since epoch), or null when off. */
  readonly next: number | null;
  /** Enqueues the backup of `slot` (deduplicated per slot across instances); what the timer does when a slot comes. */
  enqueueSlot(slot: number): Promise<{ created: boolean; jobId: string }>;
  stop(): void;
};

/** Starts the timer of BACKUP_SCHEDULE (nothing when it is off). Call after registerBackupJob and the queue's start. */
export function startBackupScheduler(deps: Deps): BackupScheduler {
  const parsed = parseBackupSchedule(deps.config.BACKUP_SCHEDULE);
  const schedule: BackupSchedule = typeof parsed === "string" ? { kind: "off" } : parsed; // config.ts refused a bad one
  let timer: ReturnType<typeof setTimeout> | undefined;
  let next: number | null = null;
  let stopped = false;
  let last = Number.NEGATIVE_INFINITY;
  const enqueueSlot = async (slot: number) => {
    const at = new Date(slot).toISOString();
    const { created, job } = await deps.jobs.enqueue(BACKUP_JOB, { slot: at }, { dedupeKey: `backup:${at}`, runAt: slot, maxAttempts: 2 });
    if (created) deps.log.info("scheduled backup queued", { slot: at, job_id: job.id });
    return { created, jobId: job.id };
  };
  const arm = () => {
    if (stopped) return;
    // From the slot just queued at the earliest: a timer that fires a little early must not queue it twice.
    next = nextBackupSlot(schedule, Math.max(deps.clock.now(), last));
    if (next === null) return;
    const slot = next;
    last = slot;
    timer = setTimeout(
      () => {
        enqueueSlot(slot)
          .catch((err) => deps.log.warn("queueing a scheduled backup failed", errorFields(err)))
          .finally(arm);
      },
      Math.max(0, slot - deps.clock.now()),
    );
    timer.unref();
  };
  arm();
  if (next !== null)
    deps.log.info("backups scheduled", {
      schedule: deps.config.BACKUP_SCHEDULE,
      keep: deps.config.BACKUP_KEEP,
      root: backupRoot(deps.config),
      next: new Date(next).toISOString(),
    });
  return {
    schedule,
    get next() {
      return next;
    },
    enqueueSlot,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

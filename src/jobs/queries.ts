// The SQL of the durable job queue (src/jobs/queue.ts runs it). Every state change is one statement, so it is
// atomic on its own on both drivers, and every write a worker makes about a job it runs is "fenced": it only
// applies while the row still says this worker holds this attempt (id + locked_by + attempts). A worker that lost
// its lease (it hung, its clock jumped, another instance re-claimed the job) can therefore never overwrite the
// outcome of the attempt that replaced it.
import { and, asc, desc, eq, gt, inArray, isNotNull, lt, lte, ne, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { jobs } from "../db/schema.ts";

export type JobRow = typeof jobs.$inferSelect;
export type JobStatus = "queued" | "running" | "done" | "failed";
export type JobPayload = Record<string, unknown>;
export type JobResult = Record<string, unknown>;

/** Identifies one attempt of one job by one worker: the condition every worker-side write carries. */
export type Fence = { id: string; worker: string; attempt: number };

/** Finished for good: `waitFor` resolves on these. */
export const isFinal = (row: Pick<JobRow, "status"> | undefined): boolean => row?.status === "done" || row?.status === "failed";

/** `last_error` keeps the start of long messages only (a stack or an ffmpeg log can be huge). */
export const ERROR_MAX_CHARS = 2000;
const clip = (s: string) => (s.length > ERROR_MAX_CHARS ? `${s.slice(0, ERROR_MAX_CHARS - 1)}…` : s);

const fenced = (f: Fence) => and(eq(jobs.id, f.id), eq(jobs.status, "running"), eq(jobs.lockedBy, f.worker), eq(jobs.attempts, f.attempt));

export type NewJob = {
  id: string;
  type: string;
  payload: JobPayload;
  dedupeKey?: string | null;
  runAt: number;
  maxAttempts: number;
  now: number;
};

/**
 * Inserts a job, or finds the one already holding its dedupe key. The unique index decides (ON CONFLICT DO
 * NOTHING), never a read before the write, so two concurrent enqueues with one key create exactly one job.
 */
export async function insertJob(db: Db, job: NewJob): Promise<{ created: boolean; job: JobRow }> {
  for (let tries = 0; ; tries++) {
    const [inserted] = await db
      .insert(jobs)
      .values({
        id: job.id,
        type: job.type,
        payload: job.payload,
        status: "queued",
        dedupeKey: job.dedupeKey ?? null,
        maxAttempts: job.maxAttempts,
        runAt: job.runAt,
        createdAt: job.now,
        updatedAt: job.now,
      })
      .onConflictDoNothing({ target: jobs.dedupeKey })
      .returning();
    if (inserted) return { created: true, job: inserted };
    const [existing] = await db.select().from(jobs).where(eq(jobs.dedupeKey, job.dedupeKey!));
    if (existing) return { created: false, job: existing };
    // The holder of the key was deleted (cleanup) between our insert and our read: insert again.
    if (tries >= 2) throw new Error(`enqueue ${job.type}: dedupe key ${job.dedupeKey} keeps conflicting`);
  }
}

/**
 * Claims the next runnable job of the given types: queued and due, or running with an expired lease (its worker
 * died) and attempts left. One UPDATE ... WHERE id = (SELECT ...) RETURNING: the statement holds the write lock
 * from choosing the row to changing it, so two workers can never claim the same job. The outer WHERE repeats the
 * claimable condition so the statement stays correct even if the row changed before the write.
 */
export async function claimNext(db: Db, o: { types: string[]; worker: string; now: number; leaseMs: number }): Promise<JobRow | undefined> {
  if (!o.types.length) return undefined;
  const claimable = or(
    and(eq(jobs.status, "queued"), lte(jobs.runAt, o.now)),
    and(eq(jobs.status, "running"), lt(jobs.leaseUntil, o.now), lt(jobs.attempts, jobs.maxAttempts)),
  );
  const next = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(inArray(jobs.type, o.types), claimable))
    .orderBy(asc(jobs.runAt), asc(jobs.id))
    .limit(1);
  const [row] = await db
    .update(jobs)
    .set({
      status: "running",
      attempts: sql`${jobs.attempts} + 1`,
      leaseUntil: o.now + o.leaseMs,
      lockedBy: o.worker,
      progress: 0,
      updatedAt: o.now,
    })
    .where(and(eq(jobs.id, next), claimable))
    .returning();
  return row;
}

/** Heartbeat: pushes the lease forward. False when the attempt is no longer ours (lease lost). */
export async function extendLease(db: Db, f: Fence, now: number, leaseMs: number): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ leaseUntil: now + leaseMs, updatedAt: now })
    .where(fenced(f))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/** Progress 0..100 of the running attempt. False when the attempt is no longer ours. */
export async function setProgress(db: Db, f: Fence, pct: number, now: number): Promise<boolean> {
  const rows = await db.update(jobs).set({ progress: pct, updatedAt: now }).where(fenced(f)).returning({ id: jobs.id });
  return rows.length > 0;
}

export async function completeJob(db: Db, f: Fence, result: JobResult | null, now: number): Promise<JobRow | undefined> {
  const [row] = await db
    .update(jobs)
    .set({ status: "done", result, progress: 100, leaseUntil: null, lockedBy: null, lastError: null, finishedAt: now, updatedAt: now })
    .where(fenced(f))
    .returning();
  return row;
}

/** A failed attempt: back to `queued` at `retryAt`, or `failed` for good (the dead letter) when retryAt is null. */
export async function failJob(db: Db, f: Fence, error: string, retryAt: number | null, now: number): Promise<JobRow | undefined> {
  const next = retryAt === null ? { status: "failed", finishedAt: now } : { status: "queued", runAt: retryAt };
  const [row] = await db
    .update(jobs)
    .set({ ...next, lastError: clip(error), leaseUntil: null, lockedBy: null, updatedAt: now })
    .where(fenced(f))
    .returning();
  return row;
}

/**
 * Gives a job back without counting the attempt (this worker is shutting down, the job did nothing wrong):
 * queued, due now, so another instance takes it at once.
 */
export async function releaseJob(db: Db, f: Fence, now: number): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ status: "queued", attempts: sql`${jobs.attempts} - 1`, runAt: now, leaseUntil: null, lockedBy: null, updatedAt: now })
    .where(fenced(f))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/**
 * Jobs a worker held when it died and that a previous life of `worker` (same stable id) still holds: due again at
 * once instead of after their lease. The attempt stays counted, so a job that kills its process every time still
 * ends up failed.
 */
export async function recoverWorkerJobs(db: Db, worker: string, now: number): Promise<number> {
  const rows = await db
    .update(jobs)
    .set({ status: "queued", runAt: now, leaseUntil: null, lockedBy: null, updatedAt: now })
    .where(and(eq(jobs.status, "running"), eq(jobs.lockedBy, worker), lt(jobs.attempts, jobs.maxAttempts)))
    .returning({ id: jobs.id });
  return rows.length;
}

export const LOST_ON_LAST_ATTEMPT = "the worker running the last attempt was lost (its lease expired: crash or hang)";

/** Running jobs whose lease expired on their last attempt cannot be claimed again: they fail for good. */
export async function failLostFinalAttempts(db: Db, now: number): Promise<JobRow[]> {
  return db
    .update(jobs)
    .set({ status: "failed", lastError: LOST_ON_LAST_ATTEMPT, leaseUntil: null, lockedBy: null, finishedAt: now, updatedAt: now })
    .where(and(eq(jobs.status, "running"), lt(jobs.leaseUntil, now), sql`${jobs.attempts} >= ${jobs.maxAttempts}`))
    .returning();
}

/** Puts a failed job back in the queue with a fresh set of attempts (replaying the dead letter). */
export async function retryFailedJob(db: Db, id: string, now: number): Promise<JobRow | undefined> {
  const [row] = await db
    .update(jobs)
    .set({ status: "queued", attempts: 0, runAt: now, progress: 0, finishedAt: null, updatedAt: now })
    .where(and(eq(jobs.id, id), eq(jobs.status, "failed")))
    .returning();
  return row;
}

/** The jobs among `ids` that are finished (done or failed). */
export async function findFinished(db: Db, ids: string[]): Promise<JobRow[]> {
  if (!ids.length) return [];
  return db
    .select()
    .from(jobs)
    .where(and(inArray(jobs.id, ids), inArray(jobs.status, ["done", "failed"])));
}

export async function findJob(db: Db, id: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
  return row;
}

/** The jobs holding these dedupe keys (those that exist). One statement: the keys travel as one JSON array. */
export async function findByKeys(db: Db, keys: string[]): Promise<JobRow[]> {
  if (!keys.length) return [];
  return db
    .select()
    .from(jobs)
    .where(sql`${jobs.dedupeKey} IN (SELECT value FROM json_each(${JSON.stringify(keys)}))`);
}

/** The newest jobs of one status, newest first (for the owner's admin pages). */
export async function listByStatus(db: Db, status: JobStatus, limit: number): Promise<JobRow[]> {
  return db.select().from(jobs).where(eq(jobs.status, status)).orderBy(desc(jobs.updatedAt), desc(jobs.id)).limit(limit);
}

/** How many jobs there are of each status. */
export async function countByStatus(db: Db): Promise<Record<string, number>> {
  const rows = await db.select({ status: jobs.status, n: sql<number>`count(*)` }).from(jobs).groupBy(jobs.status);
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Whether a job of `type` is queued and due now. */
export async function anyDue(db: Db, type: string, now: number): Promise<boolean> {
  const rows = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.type, type), eq(jobs.status, "queued"), lte(jobs.runAt, now)))
    .limit(1);
  return rows.length > 0;
}

/**
 * Whether a job whose dedupe key starts with `keyPrefix` was written after job `jobId` (in write order: SQLite's
 * rowid, assigned under the write lock) and has not failed for good. One range read on the unique dedupe_key index.
 */
export async function hasLaterJob(db: Db, jobId: string, keyPrefix: string): Promise<boolean> {
  const [row] = await db
    .select({ id: jobs.id })
    .from(jobs)
    // "\uffff" sorts after every ASCII character: the range is exactly the keys with this prefix.
    .where(
      and(
        gt(jobs.dedupeKey, keyPrefix),
        lt(jobs.dedupeKey, `${keyPrefix}\uffff`),
        ne(jobs.status, "failed"),
        sql`${jobs}.rowid > (SELECT j.rowid FROM ${jobs} AS j WHERE j.id = ${jobId})`,
      ),
    )
    .limit(1);
  return Boolean(row);
}

/** Deletes one job if it is finished (done or failed); a queued or running job stays. True when it was deleted. */
export async function deleteFinished(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .delete(jobs)
    .where(and(eq(jobs.id, id), inArray(jobs.status, ["done", "failed"])))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/**
 * Deletes one batch of finished jobs older than the cutoffs (by finished_at); returns how many. Batches keep each
 * write lock short; the caller loops while a full batch came back.
 */
export async function deleteFinishedBatch(db: Db, o: { doneBefore: number; failedBefore: number; batch: number }): Promise<number> {
  const old = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(
      and(
        isNotNull(jobs.finishedAt),
        or(and(eq(jobs.status, "done"), lt(jobs.finishedAt, o.doneBefore)), and(eq(jobs.status, "failed"), lt(jobs.finishedAt, o.failedBefore))),
      ),
    )
    .limit(o.batch);
  const rows = await db.delete(jobs).where(inArray(jobs.id, old)).returning({ id: jobs.id });
  return rows.length;
}

// The durable job runner. Jobs live in the `jobs` table, so a crash or a restart loses nothing and several
// instances on one database share the work: a worker claims a job with a lease (one atomic UPDATE), keeps the lease
// alive with heartbeats while the handler runs, and records the outcome; a worker that dies simply stops
// heartbeating and any instance takes the job again once the lease has expired. Failed attempts are retried with
// exponential backoff and jitter; the last one leaves the job `failed` with its reason (the dead letter).
//
// Generic infrastructure: features register named handlers at start-up (`queue.register("process-loop", fn)`);
// this module imports no feature. Handlers follow Immich's rule: reload what they work on by id from the payload,
// be idempotent (an attempt may run again after a crash, a timeout or a lost lease), and return a small result.
//
// Times written to the database (run_at, lease_until, finished_at) come from the injected clock, so tests drive
// them; waiting (poll interval, heartbeat interval, handler timeout) uses real timers.
//
// Why not a library: the queues on npm for Bun/Node either need Redis (BullMQ) or Postgres (pg-boss, graphile-
// worker); none runs on bun:sqlite and libSQL with one code path, and the table is ours already.
import { availableParallelism, hostname } from "node:os";
import { outsideTransactions, type Database, type Db } from "../db/client.ts";
import type { Clock, Logger } from "../lib/types.ts";
import { childLogger, errorFields, errorMessage } from "../log.ts";
import { NO_METRICS, type Metrics } from "../metrics/types.ts";
import * as q from "./queries.ts";
import type { Fence, JobPayload, JobResult, JobRow } from "./queries.ts";

export type { JobPayload, JobResult, JobRow, JobStatus } from "./queries.ts";
export { isFinal } from "./queries.ts";

// ---------------------------------------------------------------------------------------------------------------
// Options

export type BackoffOptions = {
  /** Delay before the 2nd attempt; doubles for each further one. */
  baseMs: number;
  /** Upper bound of one delay. */
  maxMs: number;
  /** Random spread as a fraction of the delay (0.2 → ±20 %), so jobs that failed together do not retry together. */
  jitter: number;
};

export type JobQueueOptions = {
  /** Handlers running at once on this instance (all types together). Config: JOB_CONCURRENCY. */
  concurrency: number;
  /** How long a claim stays valid without a heartbeat. Another instance re-runs the job after it. Config: JOB_LEASE_MS. */
  leaseMs: number;
  /** Heartbeat interval; default leaseMs / 3. */
  heartbeatMs?: number;
  /** Default time a handler may run before its signal is aborted and the attempt fails. Config: JOB_TIMEOUT_MS. */
  timeoutMs: number;
  /** After aborting a handler (timeout, shutdown), how long to wait for it to settle before freeing its slot. */
  abortGraceMs: number;
  /** How often an idle worker looks for due jobs (enqueues on this instance wake it at once). Config: JOB_POLL_MS. */
  pollMs: number;
  /** Attempts of a job unless its enqueue says otherwise. Config: JOB_MAX_ATTEMPTS. */
  maxAttempts: number;
  backoff: BackoffOptions;
  /** Finished jobs are deleted after these ages (by finished_at); everyMs 0 turns the periodic cleanup off. */
  cleanup: { everyMs: number; doneAfterMs: number; failedAfterMs: number };
  /**
   * This instance's worker id (written to locked_by). Random by default. When set, it must be stable across
   * restarts and unique among live instances: on start the runner then takes back at once the jobs a previous life
   * of this id still held, instead of waiting for their leases to expire. Config: JOB_WORKER_ID.
   */
  workerId?: string;
};

const DAY_MS = 86_400_000;

export const JOB_QUEUE_DEFAULTS: Readonly<JobQueueOptions> = Object.freeze({
  concurrency: availableParallelism(),
  leaseMs: 30_000,
  timeoutMs: 300_000,
  abortGraceMs: 2_000,
  pollMs: 500,
  maxAttempts: 5,
  backoff: Object.freeze({ baseMs: 1_000, maxMs: 300_000, jitter: 0.2 }),
  cleanup: Object.freeze({ everyMs: 3_600_000, doneAfterMs: 7 * DAY_MS, failedAfterMs: 30 * DAY_MS }),
});

/** Delay before the next attempt after `attempt` (1-based) failed: base·2^(attempt−1), capped, ± jitter. */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(o.maxMs, o.baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = exp * o.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(o.maxMs, Math.round(exp + spread)));
}

// ---------------------------------------------------------------------------------------------------------------
// Handlers

/** What a handler sees of its job. */
export type JobInfo<P extends JobPayload = JobPayload> = {
  id: string;
  type: string;
  payload: P;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  createdAt: number;
};

export type JobContext = {
  /** Aborted when the attempt times out, its lease is lost, or the instance shuts down: stop work, clean up. */
  signal: AbortSignal;
  /** Records progress 0..100 on the job row (read by status endpoints). */
  progress(pct: number): Promise<void>;
  /** The queue's logger with the job's id and type added. */
  log: Logger;
};

/** Returns a small JSON result (stored on the row) or throws. Throw `PermanentJobError` to skip the retries. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing is the common case
export type JobHandler<P extends JobPayload = JobPayload> = (job: JobInfo<P>, ctx: JobContext) => Promise<JobResult | void>;

export type HandlerOptions = {
  /** Overrides the queue's timeoutMs for this type. */
  timeoutMs?: number;
  /** At most this many jobs of this type at once on this instance (within the queue's overall bound). */
  concurrency?: number;
  /** Overrides the queue's backoff for this type (e.g. a slow outbox retrying for hours). */
  backoff?: Partial<BackoffOptions>;
};

/**
 * An error that retrying cannot fix (bad input, missing row): the job fails at once. Any error with a truthy
 * `permanent` property counts too, so code that cannot import this class can still mark its errors.
 */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
  readonly permanent = true;
}

export class JobTimeoutError extends Error {
  override name = "JobTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms`);
  }
}

/** The reason on the signal when this instance stops: the attempt is given back, not counted as a failure. */
export class JobShutdownError extends Error {
  override name = "JobShutdownError";
  constructor() {
    super("the worker is shutting down");
  }
}

/** The reason on the signal when another worker took the job over (our lease had expired). */
export class JobLeaseLostError extends Error {
  override name = "JobLeaseLostError";
  constructor() {
    super("the job's lease was lost to another worker");
  }
}

const isPermanent = (err: unknown) =>
  err instanceof PermanentJobError || (typeof err === "object" && err !== null && (err as { permanent?: unknown }).permanent === true);

// ---------------------------------------------------------------------------------------------------------------
// Enqueue (usable without a runner, e.g. from scripts)

export type EnqueueOptions = {
  /** At most one job per key, ever (until cleanup deletes it): a second enqueue returns the first job. */
  dedupeKey?: string;
  /** Not before this time (ms since epoch, deps.clock time). Default: now. */
  runAt?: number;
  maxAttempts?: number;
  /**
   * The caller's transaction: the job is written in it, so it exists only if the transaction commits. Without it
   * the job is written on its own.
   */
  tx?: Db;
};

export type EnqueueResult = { created: boolean; job: JobRow };

type QueueDeps = { database: Database; clock: Clock };

/**
 * Queue writes outside a caller's transaction. Each is one statement, atomic alone, so it goes straight to
 * database.db, which never lets it become part of another task's open transaction (docs/architecture.md, Database).
 */
function writer(database: Database): <T>(fn: (db: Db) => Promise<T>) => Promise<T> {
  return (fn) => fn(database.db);
}

export async function enqueue(
  deps: QueueDeps,
  type: string,
  payload: JobPayload,
  opts: EnqueueOptions = {},
  defaults: Pick<JobQueueOptions, "maxAttempts"> = JOB_QUEUE_DEFAULTS,
): Promise<EnqueueResult> {
  const maxAttempts = opts.maxAttempts ?? defaults.maxAttempts;
  if (!type) throw new TypeError("enqueue: type is required");
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`enqueue ${type}: maxAttempts must be an integer ≥ 1`);
  const now = deps.clock.now();
  const job: q.NewJob = { id: Bun.randomUUIDv7(), type, payload, dedupeKey: opts.dedupeKey, runAt: opts.runAt ?? now, maxAttempts, now };
  return opts.tx ? q.insertJob(opts.tx, job) : writer(deps.database)((db) => q.insertJob(db, job));
}

// ---------------------------------------------------------------------------------------------------------------
// The runner

export interface JobQueue {
  readonly workerId: string;
  /** Registers the handler for a job type. Call before start() (or at least before such jobs are due). */
  register<P extends JobPayload>(type: string, handler: JobHandler<P>, options?: HandlerOptions): void;
  /** Writes a job (see EnqueueOptions) and wakes this instance's runner. */
  enqueue(type: string, payload: JobPayload, opts?: EnqueueOptions): Promise<EnqueueResult>;
  /**
   * The job once it is done or failed for good, or null if that takes longer than timeoutMs. Resolves as soon as
   * this instance finishes it; jobs run elsewhere are seen by polling the row.
   */
  waitFor(jobId: string, timeoutMs: number): Promise<JobRow | null>;
  get(jobId: string): Promise<JobRow | undefined>;
  /** The jobs holding these dedupe keys (those that exist), for features that name their jobs by key. */
  getByKeys(dedupeKeys: string[]): Promise<JobRow[]>;
  /** Whether a job of `type` is queued and due now. */
  anyDue(type: string): Promise<boolean>;
  /** The newest jobs of one status, newest first, and how many there are of each status (the admin pages). */
  list(status: q.JobStatus, limit: number): Promise<JobRow[]>;
  counts(): Promise<Record<string, number>>;
  /**
   * Whether a job whose dedupe key starts with `keyPrefix` was written after job `jobId` and has not failed for
   * good: for a handler whose job names an object, a later job of the same object makes its work redundant.
   */
  hasLaterJob(jobId: string, keyPrefix: string): Promise<boolean>;
  /**
   * Deletes a finished (done or failed) job; a queued or running one stays. With `tx`, in the caller's transaction.
   * True when it was deleted.
   */
  discard(jobId: string, opts?: { tx?: Db }): Promise<boolean>;
  /** Puts a failed job back in the queue with fresh attempts. Null if it is not in `failed`. */
  retry(jobId: string): Promise<JobRow | null>;
  /** Look for due jobs now (e.g. after committing a transaction that enqueued one). */
  wake(): void;
  /**
   * Runs one claiming cycle, the one a poll runs, and resolves when it is over: what it claimed has been launched
   * (the handlers have been called, not finished). A cycle already under way goes round once more and that is the
   * one awaited. Claims nothing unless started. Lets a test check that a poll claims nothing, without sleeping.
   */
  pollOnce(): Promise<void>;
  /** Starts claiming jobs. */
  start(): Promise<void>;
  /**
   * Stops claiming, lets running handlers finish for up to graceMs, then aborts the rest and gives their jobs
   * back (queued, due now, attempt not counted) so another instance takes them at once.
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
  /** Deletes finished jobs older than the cleanup ages. Returns how many. */
  cleanup(): Promise<number>;
  /** Handlers running on this instance now. */
  readonly running: number;
  /** Whether this instance claims jobs (between start() and stop()). */
  readonly started: boolean;
}

const NOT_RECORDED = Symbol("not recorded");
type Registered = { handler: JobHandler; timeoutMs: number; concurrency: number; backoff: BackoffOptions };
type Active = { controller: AbortController; finished: Promise<void> };

export function createJobQueue(deps: QueueDeps & { log: Logger; metrics?: Metrics }, options: Partial<JobQueueOptions> = {}): JobQueue {
  const o: JobQueueOptions = {
    ...JOB_QUEUE_DEFAULTS,
    ...options,
    backoff: { ...JOB_QUEUE_DEFAULTS.backoff, ...options.backoff },
    cleanup: { ...JOB_QUEUE_DEFAULTS.cleanup, ...options.cleanup },
  };
  for (const k of ["concurrency", "leaseMs", "pollMs", "timeoutMs", "maxAttempts"] as const) {
    if (!(Number.isFinite(o[k]) && o[k] >= 1)) throw new RangeError(`job queue: ${k} must be ≥ 1 (got ${o[k]})`);
  }
  const heartbeatMs = o.heartbeatMs ?? Math.max(1, Math.floor(o.leaseMs / 3));
  const workerId = o.workerId ?? `${hostname()}:${process.pid}:${Bun.randomUUIDv7().slice(-12)}`;
  const { database, clock, log } = deps;
  const metrics = deps.metrics ?? NO_METRICS;
  const write = writer(database);

  const handlers = new Map<string, Registered>();
  const active = new Map<string, Active>();
  const activeByType = new Map<string, number>();
  const waiters = new Map<string, Set<(row: JobRow) => void>>();

  let started = false;
  let stopping = false;
  let pumping = false;
  let pumpAgain = false;
  /** The claiming loop under way (while `pumping`). */
  let cycle: Promise<void> = Promise.resolve();
  let lastReap = -Infinity;
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let cleanupTimer: ReturnType<typeof setInterval> | undefined;

  // Jobs finished on another instance reach waitFor through one shared poll of all awaited ids.
  let waitPollTimer: ReturnType<typeof setTimeout> | undefined;
  const scheduleWaitPoll = () => {
    if (!waitPollTimer && waiters.size) waitPollTimer = setTimeout(pollWaiters, o.pollMs);
  };
  async function pollWaiters() {
    const ids = [...waiters.keys()];
    try {
      for (let i = 0; i < ids.length; i += 500) for (const row of await q.findFinished(database.db, ids.slice(i, i + 500))) notify(row);
    } catch (err) {
      log.warn("job poll failed", errorFields(err));
    }
    waitPollTimer = undefined;
    scheduleWaitPoll();
  }

  const notify = (row: JobRow | undefined) => {
    if (!row || !q.isFinal(row)) return;
    const set = waiters.get(row.id);
    if (set) for (const resolve of [...set]) resolve(row);
  };

  /** Types with a free slot of their own (the overall bound is checked by the caller). */
  const claimableTypes = () => [...handlers].filter(([type, h]) => (activeByType.get(type) ?? 0) < h.concurrency).map(([type]) => type);

  // One claiming loop at a time per instance; a wake during a loop makes it go round once more. Resolves when the
  // loop under way is over (that is, after the round the call asked for).
  function pump(): Promise<void> {
    if (!started || stopping) return Promise.resolve();
    if (pumping) {
      pumpAgain = true;
      return cycle;
    }
    pumping = true;
    cycle = claimLoop();
    return cycle;
  }

  async function claimLoop(): Promise<void> {
    try {
      do {
        pumpAgain = false;
        // Lost last attempts are looked for at start and then once per lease period (they take a lease to appear).
        if (performance.now() - lastReap >= o.leaseMs) {
          lastReap = performance.now();
          const lost = await write((db) => q.failLostFinalAttempts(db, clock.now()));
          for (const row of lost) {
            log.warn("job failed: worker lost on the last attempt", { job_id: row.id, job_type: row.type, attempts: row.attempts });
            metrics.jobAttempt(row.type, "lost", 0);
            notify(row);
          }
        }
        while (!stopping && active.size < o.concurrency) {
          const types = claimableTypes();
          if (!types.length) break;
          const row = await write((db) => q.claimNext(db, { types, worker: workerId, now: clock.now(), leaseMs: o.leaseMs }));
          if (!row) break;
          if (stopping) {
            // stop() began while we were claiming: hand the job straight back.
            await write((db) => q.releaseJob(db, { id: row.id, worker: workerId, attempt: row.attempts }, clock.now()));
            break;
          }
          launch(row);
        }
      } while (pumpAgain && !stopping);
    } catch (err) {
      // A busy or unreachable database: the next poll tries again.
      log.warn("job claim failed", { ...errorFields(err), worker: workerId });
    } finally {
      pumping = false;
    }
  }

  // The loop is never part of the transaction of the code that woke it (an enqueue inside a transaction wakes us
  // before that transaction has committed): claims and handlers run as their own work.
  const wake = () => {
    if (started && !stopping) setTimeout(() => outsideTransactions(() => void pump()), 0);
  };

  /**
   * Outcome writes are retried a few times: losing one would make the job run again after its lease. Resolves to
   * the write's value, or NOT_RECORDED when the database kept failing.
   */
  async function record<T>(what: string, fn: (db: Db) => Promise<T>, jlog: Logger): Promise<T | typeof NOT_RECORDED> {
    for (let i = 0; ; i++) {
      try {
        return await write(fn);
      } catch (err) {
        if (i >= 3) {
          jlog.error(`job ${what} could not be recorded; the job runs again after its lease`, errorFields(err));
          return NOT_RECORDED;
        }
        await Bun.sleep(50 * 4 ** i);
      }
    }
  }

  function launch(row: JobRow) {
    const reg = handlers.get(row.type)!;
    const fence: Fence = { id: row.id, worker: workerId, attempt: row.attempts };
    const controller = new AbortController();
    const jlog = childLogger(log, { job_id: row.id, job_type: row.type, attempt: row.attempts, worker: workerId });
    activeByType.set(row.type, (activeByType.get(row.type) ?? 0) + 1);
    const entry: Active = { controller, finished: Promise.resolve() };
    active.set(row.id, entry);
    entry.finished = run(row, reg, fence, controller, jlog)
      .catch((err) => jlog.error("job runner error", errorFields(err, { stack: true })))
      .finally(() => {
        active.delete(row.id);
        activeByType.set(row.type, (activeByType.get(row.type) ?? 1) - 1);
        wake();
      });
  }

  async function run(row: JobRow, reg: Registered, fence: Fence, controller: AbortController, jlog: Logger) {
    const { signal } = controller;
    const t0 = performance.now();
    jlog.debug("job started");

    const heartbeat = setInterval(async () => {
      try {
        const ours = await write((db) => q.extendLease(db, fence, clock.now(), o.leaseMs));
        if (!ours && !signal.aborted) controller.abort(new JobLeaseLostError());
      } catch (err) {
        jlog.warn("job heartbeat failed", errorFields(err));
      }
    }, heartbeatMs);
    const timeout = setTimeout(() => controller.abort(new JobTimeoutError(reg.timeoutMs)), reg.timeoutMs);

    let lastPct = -1;
    const ctx: JobContext = {
      signal,
      async progress(pct) {
        const p = Math.max(0, Math.min(100, Math.round(pct)));
        if (p === lastPct || signal.aborted) return;
        lastPct = p;
        try {
          const ours = await write((db) => q.setProgress(db, fence, p, clock.now()));
          if (!ours && !signal.aborted) controller.abort(new JobLeaseLostError());
        } catch (err) {
          // Progress is advisory: a failed write does not fail the job.
          jlog.warn("job progress not recorded", errorFields(err));
        }
      },
      log: jlog,
    };
    const info: JobInfo = { id: row.id, type: row.type, payload: row.payload, attempt: row.attempts, maxAttempts: row.maxAttempts, createdAt: row.createdAt };

    // The handler's own outcome, or, once the signal is aborted and the handler has not settled within
    // abortGraceMs, the abort reason: a handler that ignores its signal cannot hold its slot forever (it keeps
    // running detached; its late outcome is discarded).
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    // biome-ignore lint/suspicious/noConfusingVoidType: what a handler returned
    type Outcome = { ok: true; value: JobResult | void } | { ok: false; error: unknown };
    const abandoned = new Promise<Outcome>((resolve) => {
      const onAbort = () => (graceTimer = setTimeout(() => resolve({ ok: false, error: signal.reason }), o.abortGraceMs));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    const settled: Promise<Outcome> = Promise.resolve()
      .then(() => reg.handler(info, ctx))
      .then(
        (value) => ({ ok: true as const, value }),
        (error) => ({ ok: false as const, error }),
      );
    const outcome = await Promise.race([settled, abandoned]);
    clearInterval(heartbeat);
    clearTimeout(timeout);
    clearTimeout(graceTimer);
    const ms = Math.round(performance.now() - t0);
    const seconds = (performance.now() - t0) / 1000;

    if (outcome.ok) {
      const value = outcome.value;
      const result = value && typeof value === "object" ? (value as JobResult) : null;
      const done = await record("result", (db) => q.completeJob(db, fence, result, clock.now()), jlog);
      if (done === NOT_RECORDED) return;
      if (!done) {
        metrics.jobAttempt(row.type, "abandoned", seconds);
        return jlog.warn("job finished after its lease was lost; result discarded", { ms });
      }
      metrics.jobAttempt(row.type, "done", seconds);
      jlog.info("job done", { ms });
      notify(done);
      return;
    }

    // An abort decides the outcome over whatever the handler threw on its way out (usually an AbortError).
    const reason = signal.aborted ? signal.reason : outcome.error;
    if (reason instanceof JobLeaseLostError) {
      metrics.jobAttempt(row.type, "abandoned", seconds);
      jlog.warn("job abandoned: another worker took it over", { ms });
      return;
    }
    if (reason instanceof JobShutdownError) {
      const given = await record("release", (db) => q.releaseJob(db, fence, clock.now()), jlog);
      if (given === true) {
        metrics.jobAttempt(row.type, "released", seconds);
        jlog.info("job given back at shutdown", { ms });
      }
      return;
    }
    const message = errorMessage(reason);
    const permanent = isPermanent(reason);
    const retry = !permanent && row.attempts < row.maxAttempts;
    const now = clock.now();
    const retryAt = retry ? now + backoffDelay(row.attempts, reg.backoff) : null;
    const failed = await record("failure", (db) => q.failJob(db, fence, message, retryAt, now), jlog);
    if (failed === NOT_RECORDED) return;
    const failure = { ms, ...errorFields(reason) };
    if (!failed) {
      metrics.jobAttempt(row.type, "abandoned", seconds);
      return jlog.warn("job failed after its lease was lost; outcome discarded", failure);
    }
    metrics.jobAttempt(row.type, retry ? "retried" : "failed", seconds);
    if (retry) jlog.warn("job attempt failed; will retry", { ...failure, retry_at: retryAt });
    else jlog.error("job failed", { ...failure, permanent });
    notify(failed);
  }

  async function cleanup(): Promise<number> {
    const now = clock.now();
    const cut = { doneBefore: now - o.cleanup.doneAfterMs, failedBefore: now - o.cleanup.failedAfterMs, batch: 500 };
    let total = 0;
    for (;;) {
      const n = await write((db) => q.deleteFinishedBatch(db, cut));
      total += n;
      if (n < cut.batch) break;
    }
    if (total) log.info("old jobs deleted", { count: total });
    return total;
  }

  return {
    workerId,
    get running() {
      return active.size;
    },
    get started() {
      return started && !stopping;
    },

    register(type, handler, opts = {}) {
      if (handlers.has(type)) throw new Error(`job type ${type} already has a handler`);
      const concurrency = opts.concurrency ?? o.concurrency;
      const timeoutMs = opts.timeoutMs ?? o.timeoutMs;
      if (!(concurrency >= 1 && timeoutMs >= 1)) throw new RangeError(`job type ${type}: concurrency and timeoutMs must be ≥ 1`);
      handlers.set(type, { handler: handler as JobHandler, timeoutMs, concurrency, backoff: { ...o.backoff, ...opts.backoff } });
      wake();
    },

    async enqueue(type, payload, opts = {}) {
      const res = await enqueue(deps, type, payload, opts, o);
      if (res.created) wake();
      return res;
    },

    waitFor(jobId, timeoutMs) {
      return new Promise<JobRow | null>((resolve) => {
        let done = false;
        const set = waiters.get(jobId) ?? new Set();
        waiters.set(jobId, set);
        const finish = (row: JobRow | null) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          set.delete(finish);
          if (!set.size) waiters.delete(jobId);
          if (!waiters.size) {
            clearTimeout(waitPollTimer);
            waitPollTimer = undefined;
          }
          resolve(row);
        };
        // Registered before the first read, so a finish in between is not missed.
        set.add(finish);
        const timer = setTimeout(() => finish(null), timeoutMs);
        q.findJob(database.db, jobId).then(
          (row) => q.isFinal(row) && finish(row!),
          (err) => log.warn("job poll failed", { job_id: jobId, ...errorFields(err) }),
        );
        scheduleWaitPoll();
        // The caller has probably just committed the job: look for it now rather than at the next poll.
        wake();
      });
    },

    get: (jobId) => q.findJob(database.db, jobId),

    getByKeys: (dedupeKeys) => q.findByKeys(database.db, dedupeKeys),

    anyDue: (type) => q.anyDue(database.db, type, clock.now()),

    list: (status, limit) => q.listByStatus(database.db, status, limit),

    counts: () => q.countByStatus(database.db),

    hasLaterJob: (jobId, keyPrefix) => q.hasLaterJob(database.db, jobId, keyPrefix),

    discard: (jobId, { tx } = {}) => (tx ? q.deleteFinished(tx, jobId) : write((db) => q.deleteFinished(db, jobId))),

    async retry(jobId) {
      const row = await write((db) => q.retryFailedJob(db, jobId, clock.now()));
      if (row) wake();
      return row ?? null;
    },

    wake,

    pollOnce: () => outsideTransactions(pump),

    async start() {
      if (started) return;
      started = true;
      stopping = false;
      lastReap = -Infinity;
      if (o.workerId) {
        const n = await write((db) => q.recoverWorkerJobs(db, workerId, clock.now()));
        if (n) log.info("jobs of this worker's previous run queued again", { count: n, worker: workerId });
      }
      pollTimer = setInterval(() => void pump(), o.pollMs);
      if (o.cleanup.everyMs > 0) {
        cleanupTimer = setInterval(() => void cleanup().catch((err) => log.warn("job cleanup failed", errorFields(err))), o.cleanup.everyMs);
      }
      log.info("job runner started", { worker: workerId, concurrency: o.concurrency, types: [...handlers.keys()] });
      await pump();
    },

    async stop({ graceMs = 0 } = {}) {
      if (!started) return;
      stopping = true;
      clearInterval(pollTimer);
      clearInterval(cleanupTimer);
      const all = () => Promise.all([...active.values()].map((a) => a.finished));
      if (active.size && graceMs > 0) {
        let t: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([all(), new Promise((r) => (t = setTimeout(r, graceMs)))]);
        clearTimeout(t);
      }
      if (active.size) log.info("job runner stopping: aborting running jobs", { count: active.size, worker: workerId });
      for (const a of active.values()) if (!a.controller.signal.aborted) a.controller.abort(new JobShutdownError());
      // Each aborted run gives its job back itself (bounded by abortGraceMs for handlers that ignore the signal).
      await all();
      if (pumping) await cycle; // stopping: it ends without another round
      started = false;
      log.info("job runner stopped", { worker: workerId });
    },

    cleanup,
  };
}

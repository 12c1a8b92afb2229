// The durable job queue, on bun:sqlite and on a real libSQL server (sqld). Each test gets a fresh database. Times
// in the rows come from the test's fake clock (frozen unless a test advances it), so backoff and lease expiry
// happen exactly when a test says so; the runners poll every few real milliseconds.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { eq, sql } from "drizzle-orm";
import { join } from "node:path";
import { jobs } from "../db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../../test/support/deps.ts";
import {
  backoffDelay,
  createJobQueue,
  enqueue,
  JOB_QUEUE_DEFAULTS,
  JobLeaseLostError,
  JobShutdownError,
  JobTimeoutError,
  PermanentJobError,
  type JobQueue,
  type JobQueueOptions,
} from "./queue.ts";
import { LOST_ON_LAST_ATTEMPT } from "./queries.ts";

/** Waits (real time) until `cond` holds; fails the test with `what` if it never does. */
async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(3);
  }
}

/** A promise plus its resolver: lets a test hold a handler at a point and release it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/**
 * Another instance of the server as a real separate process on the same database (same DATA_DIR file, or same
 * sqld URL), with its own connection, its clock frozen at `clockMs`, and one handler for `type`: "work" prints
 * {event:"start",id}, sleeps 0–4 ms and returns {pid}; "hang" prints start and never returns. Killing it with
 * SIGKILL is a crash; `stop()` is a graceful stop.
 */
const INSTANCE_SCRIPT = `
import { loadConfig } from ${JSON.stringify(join(import.meta.dir, "../config.ts"))};
import { openDatabase } from ${JSON.stringify(join(import.meta.dir, "../db/client.ts"))};
import { createJobQueue } from ${JSON.stringify(join(import.meta.dir, "queue.ts"))};
const e = process.env;
const config = loadConfig({ DATA_DIR: e.SC_DATA_DIR, DATABASE_URL: e.SC_DATABASE_URL || undefined });
const database = openDatabase(config);
const now = Number(e.SC_CLOCK_MS);
const quiet = () => {};
const log = { debug: quiet, info: quiet, warn: quiet, error: (m, f) => console.error(m, JSON.stringify(f)) };
const queue = createJobQueue({ database, clock: { now: () => now }, log }, JSON.parse(e.SC_OPTIONS));
const say = (o) => console.log(JSON.stringify(o));
queue.register(e.SC_TYPE, async (job) => {
  say({ event: "start", id: job.id, attempt: job.attempt });
  if (e.SC_MODE === "hang") await new Promise(() => {});
  await Bun.sleep(Math.random() * 4);
  return { pid: process.pid };
});
await queue.start();
say({ event: "ready", worker: queue.workerId });
for await (const line of console) if (line.trim() === "stop") break;
await queue.stop();
await database.close();
say({ event: "stopped" });
process.exit(0);
`;

type InstanceEvent = { event: string; id?: string; attempt?: number; worker?: string };
type Instance = {
  proc: Subprocess<"pipe", "pipe", "inherit">;
  /** What it printed so far; complete once stop() resolved. */
  events: InstanceEvent[];
  worker: string;
  stop(): Promise<void>;
};

async function spawnInstance(env: TestEnv, o: { type: string; mode: "work" | "hang"; options: Partial<JobQueueOptions> }): Promise<Instance> {
  const proc = Bun.spawn([process.execPath, "-e", INSTANCE_SCRIPT], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    env: {
      ...process.env,
      SC_DATA_DIR: env.deps.config.DATA_DIR,
      SC_DATABASE_URL: env.deps.config.DATABASE_URL ?? "",
      SC_CLOCK_MS: String(env.clock.now()),
      SC_OPTIONS: JSON.stringify(o.options),
      SC_TYPE: o.type,
      SC_MODE: o.mode,
    },
  });
  const events: InstanceEvent[] = [];
  const closed = (async () => {
    let buf = "";
    const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.startsWith("{")) events.push(JSON.parse(line));
      }
    }
  })();
  await until("the other instance is ready", () => events.some((e) => e.event === "ready") || proc.exitCode !== null);
  if (proc.exitCode !== null) throw new Error(`the other instance exited with ${proc.exitCode}`);
  return {
    proc,
    events,
    worker: events.find((e) => e.event === "ready")!.worker!,
    async stop() {
      if (proc.exitCode === null && !proc.killed) {
        proc.stdin.write("stop\n");
        await proc.stdin.flush();
        await Promise.race([proc.exited, Bun.sleep(5_000)]);
      }
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await proc.exited;
      await closed;
    },
  };
}

const LEASE_MS = 10_000;
/** Tests that start another bun process get more than bun's default 5 s: a loaded machine starts it slowly. */
const PROCESS_TEST_TIMEOUT_MS = 30_000;
const TEST_OPTIONS: Partial<JobQueueOptions> = {
  concurrency: 4,
  leaseMs: LEASE_MS,
  heartbeatMs: 20,
  pollMs: 10,
  timeoutMs: 60_000,
  abortGraceMs: 50,
  backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0 },
  cleanup: { everyMs: 0, doneAfterMs: 7 * 86_400_000, failedAfterMs: 30 * 86_400_000 },
};

test("backoff doubles per attempt, stays under its cap and spreads by the jitter", () => {
  const o = { baseMs: 1000, maxMs: 10_000, jitter: 0 };
  expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, o))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  const j = { ...o, jitter: 0.2 };
  expect(backoffDelay(2, j, () => 0)).toBe(1600);
  expect(backoffDelay(2, j, () => 1)).toBe(2400);
  expect(backoffDelay(9, j, () => 1)).toBe(10_000);
  expect(JOB_QUEUE_DEFAULTS.concurrency).toBeGreaterThanOrEqual(1);
});

for (const driver of DRIVERS) {
  describe(`job queue on ${driver}`, () => {
    let env: TestEnv;
    const queues: JobQueue[] = [];
    const instances: Instance[] = [];

    beforeEach(async () => {
      env = await createTestEnv(driver);
    });
    afterEach(async () => {
      for (const q of queues.splice(0)) await q.stop();
      for (const i of instances.splice(0)) await i.stop();
      await env.close();
    });

    /**
     * A runner in this process on the test's database connection. Several of them stand for several instances as
     * far as leases and fencing go (each has its own worker id); `otherInstance` is a truly separate one.
     */
    const newQueue = (opts: Partial<JobQueueOptions> = {}) => {
      const q = createJobQueue(env.deps, { ...TEST_OPTIONS, ...opts });
      queues.push(q);
      return q;
    };
    const otherInstance = async (o: { type: string; mode: "work" | "hang"; options?: Partial<JobQueueOptions> }) => {
      const i = await spawnInstance(env, { ...o, options: { ...TEST_OPTIONS, ...o.options } });
      instances.push(i);
      return i;
    };
    const row = async (id: string) => (await env.deps.database.db.select().from(jobs).where(eq(jobs.id, id)))[0]!;
    const countOf = async (type: string) =>
      Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM jobs WHERE type = ${type}`))[0]!.n);

    test("enqueueing with one dedupe key, even at once, creates one job", async () => {
      const q = newQueue();
      const results = await Promise.all(Array.from({ length: 10 }, () => q.enqueue("render", { postId: "p1" }, { dedupeKey: "render:p1" })));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
      const again = await q.enqueue("render", { postId: "other" }, { dedupeKey: "render:p1" });
      expect(again).toMatchObject({ created: false, job: { id: results[0]!.job.id, payload: { postId: "p1" } } });
      expect(await countOf("render")).toBe(1);

      // Without a key every enqueue is a new job; the standalone enqueue needs no runner.
      const a = await enqueue(env.deps, "render", { postId: "p2" });
      const b = await enqueue(env.deps, "render", { postId: "p2" });
      expect(a.created && b.created).toBe(true);
      expect(a.job).toMatchObject({ status: "queued", attempts: 0, maxAttempts: 5, runAt: env.clock.now(), dedupeKey: null });
      expect(await countOf("render")).toBe(3);
    });

    test("features read and remove jobs through the queue: by keys, due of a type, later of a key prefix, discard", async () => {
      const q = newQueue(); // not started: these work without a runner
      const a = (await q.enqueue("mirror", {}, { dedupeKey: "obj:1:a" })).job;
      const later = (await q.enqueue("mirror", {}, { dedupeKey: "obj:1:b" })).job;
      const other = (await q.enqueue("mirror", {}, { dedupeKey: "obj:2:a", runAt: env.clock.now() + 60_000 })).job;

      expect((await q.getByKeys(["obj:1:b", "obj:2:a", "nobody"])).map((j) => j.id).sort()).toEqual([later.id, other.id].sort());
      expect(await q.getByKeys([])).toEqual([]);

      expect(await q.anyDue("mirror")).toBe(true);
      expect(await q.anyDue("render")).toBe(false);

      // A later job of the same prefix supersedes, unless it failed for good; other prefixes do not count.
      expect(await q.hasLaterJob(a.id, "obj:1:")).toBe(true);
      expect(await q.hasLaterJob(later.id, "obj:1:")).toBe(false);
      expect(await q.hasLaterJob(a.id, "obj:2:")).toBe(true);
      expect(await q.hasLaterJob(other.id, "obj:2:")).toBe(false);
      await env.deps.database.db.update(jobs).set({ status: "failed", finishedAt: env.clock.now() }).where(eq(jobs.id, later.id));
      expect(await q.hasLaterJob(a.id, "obj:1:")).toBe(false);

      // Only a finished job is discarded; in a transaction it goes with it (and stays on a rollback).
      expect(await q.discard(a.id)).toBe(false);
      await expect(
        env.deps.database.tx(async (tx) => {
          expect(await q.discard(later.id, { tx })).toBe(true);
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(await q.get(later.id)).toBeDefined();
      expect(await env.deps.database.tx((tx) => q.discard(later.id, { tx }))).toBe(true);
      expect(await q.get(later.id)).toBeUndefined();
      expect(await q.get(a.id)).toBeDefined();
    });

    test("a handler's result is stored, its progress is visible while it runs, and waitFor returns the job", async () => {
      const q = newQueue();
      const hold = gate();
      const seen: unknown[] = [];
      q.register<{ n: number }>("double", async (job, ctx) => {
        seen.push({ attempt: job.attempt, payload: job.payload, aborted: ctx.signal.aborted });
        await ctx.progress(40);
        await hold.opened;
        return { doubled: job.payload.n * 2 };
      });
      await q.start();
      const { job } = await q.enqueue("double", { n: 21 });
      await until("progress recorded", async () => (await row(job.id)).progress === 40);
      expect(await row(job.id)).toMatchObject({ status: "running", lockedBy: q.workerId, attempts: 1 });
      expect(await q.waitFor(job.id, 20)).toBeNull(); // still running: timeout
      const waiting = q.waitFor(job.id, 10_000);
      hold.open();
      const done = await waiting;
      expect(done).toMatchObject({
        id: job.id,
        status: "done",
        result: { doubled: 42 },
        progress: 100,
        attempts: 1,
        lockedBy: null,
        leaseUntil: null,
        finishedAt: env.clock.now(),
      });
      expect(seen).toEqual([{ attempt: 1, payload: { n: 21 }, aborted: false }]);
      expect(await q.get(job.id)).toEqual(done!);
      // Already finished: answered from the row at once.
      expect(await q.waitFor(job.id, 10_000)).toEqual(done!);
    });

    test("a failing job is retried with exponential backoff, then fails for good with its reason", async () => {
      const q = newQueue();
      const attempts: number[] = [];
      q.register("flaky", async (job) => {
        attempts.push(job.attempt);
        throw new Error(`upstream said no (attempt ${job.attempt})`);
      });
      await q.start();
      const t0 = env.clock.now();
      const { job } = await q.enqueue("flaky", {}, { maxAttempts: 3 });

      await until("first attempt failed", async () => (await row(job.id)).attempts === 1 && (await row(job.id)).status === "queued");
      expect(await row(job.id)).toMatchObject({ lastError: "upstream said no (attempt 1)", runAt: t0 + 1000, lockedBy: null });
      // Not due yet: a poll makes no new attempt.
      await q.pollOnce();
      expect(attempts).toEqual([1]);

      env.clock.advance(1000);
      await until("second attempt failed", async () => (await row(job.id)).attempts === 2 && (await row(job.id)).status === "queued");
      expect(await row(job.id)).toMatchObject({ lastError: "upstream said no (attempt 2)", runAt: t0 + 1000 + 2000 });

      env.clock.advance(2000);
      const final = await q.waitFor(job.id, 10_000);
      expect(final).toMatchObject({ status: "failed", attempts: 3, lastError: "upstream said no (attempt 3)", finishedAt: t0 + 3000 });
      expect(attempts).toEqual([1, 2, 3]);

      // The dead letter can be replayed.
      env.clock.advance(10_000_000);
      const retried = await q.retry(job.id);
      expect(retried).toMatchObject({ status: "queued", attempts: 0 });
      await until("replayed attempt ran", () => attempts.length === 4);
      expect(await q.retry("no-such-job")).toBeNull();
    });

    test("a permanent error fails the job at once, without retries", async () => {
      const q = newQueue();
      let calls = 0;
      q.register("parse", async () => {
        calls++;
        throw new PermanentJobError("not an audio file");
      });
      q.register("parse-flagged", async () => {
        calls++;
        throw Object.assign(new Error("post was deleted"), { permanent: true });
      });
      await q.start();
      const a = await q.enqueue("parse", {});
      const b = await q.enqueue("parse-flagged", {});
      expect(await q.waitFor(a.job.id, 10_000)).toMatchObject({ status: "failed", attempts: 1, lastError: "not an audio file" });
      expect(await q.waitFor(b.job.id, 10_000)).toMatchObject({ status: "failed", attempts: 1, lastError: "post was deleted" });
      expect(calls).toBe(2);
    });

    test("a handler that hangs is aborted at its timeout and retried", async () => {
      const q = newQueue();
      const reasons: unknown[] = [];
      q.register(
        "hang-once",
        async (job, ctx) => {
          if (job.attempt === 1) {
            ctx.signal.addEventListener("abort", () => reasons.push(ctx.signal.reason));
            await new Promise(() => {}); // hangs and ignores its signal
          }
          return { attempt: job.attempt };
        },
        { timeoutMs: 30 },
      );
      await q.start();
      const { job } = await q.enqueue("hang-once", {});
      await until("timed-out attempt recorded", async () => (await row(job.id)).lastError !== null);
      expect(await row(job.id)).toMatchObject({ status: "queued", attempts: 1, lastError: "timed out after 30 ms" });
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toBeInstanceOf(JobTimeoutError);
      expect(q.running).toBe(0); // the hung handler does not keep its slot

      env.clock.advance(1000);
      expect(await q.waitFor(job.id, 10_000)).toMatchObject({ status: "done", attempts: 2, result: { attempt: 2 } });
    });

    test("no more handlers run at once than the bounds allow", async () => {
      // Handlers hold until released, so the runner has every chance to start too many; then all drain.
      const q = newQueue({ concurrency: 3 });
      const release = gate();
      const soloRelease = gate();
      const count = { now: 0, max: 0, started: 0, soloNow: 0, soloMax: 0, soloStarted: 0 };
      q.register("work", async () => {
        count.started++;
        count.max = Math.max(count.max, ++count.now);
        await release.opened;
        await Bun.sleep(1);
        count.now--;
      });
      q.register(
        "solo",
        async () => {
          count.soloStarted++;
          count.soloMax = Math.max(count.soloMax, ++count.soloNow);
          await soloRelease.opened;
          await Bun.sleep(1);
          count.soloNow--;
        },
        { concurrency: 1 },
      );
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await q.enqueue("solo", { i })).job.id);
      for (let i = 0; i < 12; i++) ids.push((await q.enqueue("work", { i })).job.id);
      await q.start();
      // One solo job (its own bound) and two work jobs fill the three slots.
      await until("all slots busy", () => count.soloNow === 1 && count.now === 2);
      await q.pollOnce(); // a poll: nothing more starts
      expect({ started: count.started, soloStarted: count.soloStarted, running: q.running }).toEqual({ started: 2, soloStarted: 1, running: 3 });
      soloRelease.open();
      await until("the solo jobs are done", () => count.soloStarted === 4 && count.soloNow === 0);
      await until("work takes the freed slot", () => count.now === 3);
      release.open();
      const done = await Promise.all(ids.map((id) => q.waitFor(id, 20_000)));
      expect(done.every((j) => j?.status === "done")).toBe(true);
      expect(count).toMatchObject({ max: 3, started: 12, soloMax: 1 });
    });

    test(
      "an instance killed mid-job leaves the job to another instance, which runs it once the lease expires",
      async () => {
        const other = await otherInstance({ type: "transcode", mode: "hang" });
        const { job } = await enqueue(env.deps, "transcode", { loop: 1 });
        await until("the other instance runs the job", () => other.events.some((e) => e.event === "start" && e.id === job.id));
        expect(await row(job.id)).toMatchObject({ status: "running", attempts: 1, lockedBy: other.worker });
        other.proc.kill("SIGKILL"); // a crash: nothing is given back
        await other.proc.exited;

        const q = newQueue();
        q.register("transcode", async (j) => ({ attempt: j.attempt }));
        await q.start();
        await q.pollOnce(); // a poll: the dead instance's lease is still valid
        expect(await row(job.id)).toMatchObject({ status: "running", lockedBy: other.worker });
        env.clock.advance(LEASE_MS + 1);
        expect(await q.waitFor(job.id, 10_000)).toMatchObject({ status: "done", attempts: 2, result: { attempt: 2 } });
      },
      PROCESS_TEST_TIMEOUT_MS,
    );

    test("a worker that froze past its lease cannot overwrite the outcome of the worker that took over", async () => {
      // A claims the job and freezes: its handler never returns, it sends no more heartbeats, and its only slot for
      // the type stays taken, so it claims nothing more.
      const a = newQueue({ heartbeatMs: 3_600_000 });
      const b = newQueue();
      const ranOn: string[] = [];
      const aborted: unknown[] = [];
      a.register(
        "transcode",
        async (_job, ctx) => {
          ranOn.push("a");
          ctx.signal.addEventListener("abort", () => aborted.push(ctx.signal.reason));
          await new Promise(() => {});
        },
        { concurrency: 1 },
      );
      b.register("transcode", async (job) => {
        ranOn.push("b");
        return { by: "b", attempt: job.attempt };
      });
      await a.start();
      const { job } = await a.enqueue("transcode", { loop: 1 });
      await until("A holds the job", async () => (await row(job.id)).lockedBy === a.workerId);

      await b.start();
      await b.pollOnce(); // B polls, but A's lease is still valid
      expect(ranOn).toEqual(["a"]);
      expect(await row(job.id)).toMatchObject({ status: "running", lockedBy: a.workerId });

      env.clock.advance(LEASE_MS + 1);
      // A third party that ran nothing sees the outcome by polling the row.
      const observer = newQueue();
      const done = await observer.waitFor(job.id, 10_000);
      expect(done).toMatchObject({ status: "done", attempts: 2, result: { by: "b", attempt: 2 } });
      expect(ranOn).toEqual(["a", "b"]);

      // When A finally stops, its stale attempt is aborted and cannot touch the finished job.
      await a.stop();
      expect(aborted[0]).toBeInstanceOf(JobShutdownError);
      expect(await row(job.id)).toMatchObject({ status: "done", attempts: 2, result: { by: "b", attempt: 2 } });
    });

    test("a worker whose lease was taken over aborts its handler and writes nothing more", async () => {
      const q = newQueue();
      const reasons: unknown[] = [];
      q.register("render", async (_job, ctx) => {
        await new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => {
            reasons.push(ctx.signal.reason);
            reject(new Error("aborted"));
          }),
        );
      });
      await q.start();
      const { job } = await q.enqueue("render", {});
      await until("running", async () => (await row(job.id)).status === "running");
      // What another instance's claim after an expired lease looks like.
      await env.deps.database.db.update(jobs).set({ lockedBy: "other-instance", attempts: 2 }).where(eq(jobs.id, job.id));
      await until("the handler was aborted", () => reasons.length === 1);
      expect(reasons[0]).toBeInstanceOf(JobLeaseLostError);
      await until("the slot is free", () => q.running === 0);
      expect(await row(job.id)).toMatchObject({ status: "running", lockedBy: "other-instance", attempts: 2, lastError: null });
    });

    test("a type has one handler, and bad options are refused", async () => {
      const q = newQueue();
      q.register("once", async () => ({}));
      expect(() => q.register("once", async () => ({}))).toThrow("already has a handler");
      expect(() => q.register("bad", async () => ({}), { concurrency: 0 })).toThrow(RangeError);
      expect(() => newQueue({ leaseMs: 0 })).toThrow("leaseMs");
      await expect(q.enqueue("once", {}, { maxAttempts: 0 })).rejects.toThrow("maxAttempts");
      await expect(q.enqueue("", {})).rejects.toThrow("type is required");
    });

    test("on start, jobs left running by a dead instance are picked up again; a lost last attempt fails", async () => {
      const { database } = env.deps;
      const now = env.clock.now();
      const left = await enqueue(env.deps, "resume", { n: 1 });
      const last = await enqueue(env.deps, "resume", { n: 2 }, { maxAttempts: 2 });
      const fresh = await enqueue(env.deps, "resume", { n: 3 });
      // A dead instance held them; the first two leases have expired, the third lease has not.
      const dead = { status: "running", lockedBy: "dead-instance" } as const;
      await database.db
        .update(jobs)
        .set({ ...dead, attempts: 1, leaseUntil: now - 1 })
        .where(eq(jobs.id, left.job.id));
      await database.db
        .update(jobs)
        .set({ ...dead, attempts: 2, leaseUntil: now - 1 })
        .where(eq(jobs.id, last.job.id));
      await database.db
        .update(jobs)
        .set({ ...dead, attempts: 1, leaseUntil: now + LEASE_MS })
        .where(eq(jobs.id, fresh.job.id));

      const q = newQueue();
      q.register<{ n: number }>("resume", async (job) => ({ n: job.payload.n, attempt: job.attempt }));
      await q.start();
      expect(await q.waitFor(left.job.id, 10_000)).toMatchObject({ status: "done", result: { n: 1, attempt: 2 } });
      expect(await q.waitFor(last.job.id, 10_000)).toMatchObject({ status: "failed", attempts: 2, lastError: LOST_ON_LAST_ATTEMPT });
      expect(await row(fresh.job.id)).toMatchObject({ status: "running", lockedBy: "dead-instance" });
      env.clock.advance(LEASE_MS + 1);
      expect(await q.waitFor(fresh.job.id, 10_000)).toMatchObject({ status: "done", result: { n: 3, attempt: 2 } });
    });

    test("an instance restarting with its stable worker id takes its own jobs back at once", async () => {
      const job = (await enqueue(env.deps, "resume", {})).job;
      await env.deps.database.db
        .update(jobs)
        .set({ status: "running", lockedBy: "instance-1", attempts: 1, leaseUntil: env.clock.now() + LEASE_MS })
        .where(eq(jobs.id, job.id));
      const q = newQueue({ workerId: "instance-1" });
      q.register("resume", async (j) => ({ attempt: j.attempt }));
      await q.start();
      expect(await q.waitFor(job.id, 10_000)).toMatchObject({ status: "done", result: { attempt: 2 }, lockedBy: null });
    });

    test(
      "two instances on one database never run the same job twice",
      async () => {
        const ids = await env.deps.database.tx(async (tx) => {
          const out: string[] = [];
          for (let i = 0; i < 40; i++) out.push((await enqueue(env.deps, "share", { i }, { tx })).job.id);
          return out;
        });
        // This instance takes two jobs and holds them until the other instance is working too, so both take part.
        const q = newQueue({ concurrency: 2 });
        const starts: string[] = [];
        let other: Instance | undefined;
        q.register("share", async (job) => {
          starts.push(job.id);
          await until("the other instance takes jobs too", () => !!other?.events.some((e) => e.event === "start"));
          return { pid: process.pid };
        });
        await q.start();
        other = await otherInstance({ type: "share", mode: "work", options: { concurrency: 3 } });
        const done = await Promise.all(ids.map((id) => q.waitFor(id, 30_000)));
        expect(done.map((j) => j?.status)).toEqual(ids.map(() => "done"));

        await other.stop(); // reads the rest of what it printed
        const otherStarts = other.events.filter((e) => e.event === "start").map((e) => e.id!);
        expect(starts.length).toBeGreaterThan(0);
        expect(otherStarts.length).toBeGreaterThan(0);
        // Every job ran exactly once, on one instance or the other, at its first attempt.
        expect([...starts, ...otherStarts].sort()).toEqual([...ids].sort());
        expect(done.every((j) => j!.attempts === 1)).toBe(true);
        expect(new Set(done.map((j) => j!.result!.pid))).toEqual(new Set([process.pid, other.proc.pid]));
      },
      PROCESS_TEST_TIMEOUT_MS,
    );

    test("a job enqueued in a transaction that rolls back never exists, not even for a running worker", async () => {
      const q = newQueue();
      let calls = 0;
      q.register("mirror", async () => {
        calls++;
        return {};
      });
      await q.start();
      const { database } = env.deps;
      // The worker polls meanwhile (on bun:sqlite its claim waits for the transaction to end, so it is not awaited
      // inside), and once more after the rollback.
      let polled: Promise<void> | undefined;
      await expect(
        database.tx(async (tx) => {
          const res = await q.enqueue("mirror", { activity: "a1" }, { tx, dedupeKey: "mirror:a1" });
          expect(res.created).toBe(true);
          polled = q.pollOnce();
          throw new Error("the feature's own write failed");
        }),
      ).rejects.toThrow("the feature's own write failed");
      await polled;
      await q.pollOnce();
      expect(await countOf("mirror")).toBe(0);
      expect(calls).toBe(0);

      // The same enqueue in a transaction that commits runs, and its dedupe key is free again.
      const { job } = await database.tx((tx) => q.enqueue("mirror", { activity: "a1" }, { tx, dedupeKey: "mirror:a1" }));
      expect(await q.waitFor(job.id, 10_000)).toMatchObject({ status: "done" });
      expect(calls).toBe(1);
    });

    test(
      "stop lets running jobs finish within the grace time, then gives the rest back to another instance",
      async () => {
        const a = newQueue();
        const quick = gate();
        a.register("quick", async () => {
          await quick.opened;
          return { ok: true };
        });
        a.register("long", async (_job, ctx) => {
          await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
        });
        await a.start();
        const q1 = await a.enqueue("quick", {});
        const q2 = await a.enqueue("long", {});
        await until("both running", () => a.running === 2);
        // The quick job is released once stop has begun; the long one never finishes and is aborted after the grace.
        const stopped = a.stop({ graceMs: 1_000 });
        quick.open();
        await stopped;
        expect(a.running).toBe(0);
        expect(await row(q1.job.id)).toMatchObject({ status: "done", result: { ok: true } });
        // Given back: queued, due now, its attempt not counted, no lease.
        expect(await row(q2.job.id)).toMatchObject({ status: "queued", attempts: 0, lockedBy: null, leaseUntil: null, runAt: env.clock.now() });
        await a.enqueue("quick", {}); // a stopped runner claims nothing
        await a.pollOnce();
        expect(await countOf("quick")).toBe(2);
        expect((await env.deps.database.db.select().from(jobs).where(eq(jobs.status, "running"))).length).toBe(0);

        expect(await a.waitFor(q2.job.id, 0)).toBeNull();
        const other = await otherInstance({ type: "long", mode: "work" });
        expect(await a.waitFor(q2.job.id, 10_000)).toMatchObject({ status: "done", attempts: 1, result: { pid: other.proc.pid } });
      },
      PROCESS_TEST_TIMEOUT_MS,
    );

    test("cleanup deletes finished jobs past their age and keeps the rest", async () => {
      const q = newQueue();
      q.register("ok", async () => ({}));
      q.register("bad", async () => {
        throw new PermanentJobError("no");
      });
      await q.start();
      const ok = await q.enqueue("ok", {});
      const bad = await q.enqueue("bad", {});
      await q.waitFor(ok.job.id, 10_000);
      await q.waitFor(bad.job.id, 10_000);
      await q.stop();
      const pending = await enqueue(env.deps, "ok", {});

      env.clock.advance(6 * 86_400_000);
      expect(await q.cleanup()).toBe(0);
      env.clock.advance(2 * 86_400_000); // done jobs older than 7 days go, failed ones stay 30 days
      expect(await q.cleanup()).toBe(1);
      expect(await q.get(ok.job.id)).toBeUndefined();
      expect(await q.get(bad.job.id)).toMatchObject({ status: "failed" });
      expect(await q.get(pending.job.id)).toMatchObject({ status: "queued" });
      env.clock.advance(30 * 86_400_000);
      expect(await q.cleanup()).toBe(1);
      expect(await q.get(bad.job.id)).toBeUndefined();
    });
  });
}

// The Stream.io backfill: sends what existed before Stream was switched on (README "Stream.io mirror"). Mirror jobs
// are only written while Stream is on, so a community that enables it later would otherwise never send its older
// users, loops, follows and reactions, and a reaction to an old loop would find no activity.
//
// It runs on its own the first time the server starts with a Stream app (an API key it has not backfilled), as the
// durable `stream-backfill` job, and by hand as `sidechain stream backfill`. In order: approved users (upsert, then
// their user and timeline feeds), ready posts (activities), follows, reactions on ready posts; each in batches of
// 100 in key order. After each batch the position is saved in the `meta` table, so an outage, a restart or a crash
// resumes where it stopped: the job is retried with the queue's backoff (for about a week, like mirror jobs), and
// sending a batch twice is harmless (every call upserts).
//
// Live changes go on meanwhile through the mirror jobs (integrations/stream.ts), which cope with a backfill that
// has not reached their object yet (they make the prerequisite true first). What a batch sent may have changed
// while it was sent: after the calls the batch's key range is read again, and each object whose state differs from
// what was sent gets a mirror job, which sends its state as it is now.
//
// Why batch calls, and what if one is refused: users go 100 to an upsert, feeds 200 to a batch create, activities
// 100 to an upsert, follows 100 to a batch upsert; reactions have no batch call and go 8 at a time. Stream does not
// document a batch create of feeds that already exist (a resumed batch), nor which object is missing when a batch
// says "does not exist"; a batch Stream refuses (400 or does-not-exist) is therefore sent one object at a time
// through the mirror's own steps, which handle both.
import type { StreamClient } from "@stream-io/node-sdk";
import { and, asc, eq, gt, gte, lte, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { follows, meta, posts, reactions, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { JobInfo } from "../jobs/queue.ts";
import type { PostRow } from "../posts/models.ts";
import type { UserRow } from "../users/service.ts";
import {
  apply,
  isNotFound,
  mirrorFollow,
  mirrorPostReady,
  mirrorReaction,
  mirrorUserCreated,
  STREAM_MIRROR,
  STREAM_MIRROR_MAX_ATTEMPTS,
  streamActivity,
  streamClient,
  streamEnabled,
  streamFollow,
  streamReaction,
  streamUser,
} from "./stream.ts";

export const STREAM_BACKFILL = "stream-backfill";
const META_KEY = "stream_backfill";
const BATCH = 100;
const REACTIONS_AT_ONCE = 8;

export const BACKFILL_PHASES = ["users", "posts", "follows", "reactions"] as const;
export type BackfillPhase = (typeof BACKFILL_PHASES)[number];

/** Where a backfill stands, kept as JSON in `meta` under "stream_backfill". */
export type BackfillState = {
  /** The Stream app it is for: a different STREAM_API_KEY is a different app, which starts over. */
  api_key: string;
  /** This run's id (a restart begins a new run; an older run's job then stops). */
  run: string;
  phase: BackfillPhase | "done";
  /** The key of the last object sent in this phase (empty at its start). */
  after: string[];
  sent: Record<BackfillPhase, number>;
  /** Objects of the current phase, counted when it began (for progress). */
  total: number;
  started_at: number;
  finished_at: number | null;
  /** Time spent sending, summed over attempts. */
  ms: number;
};

export async function readBackfill(deps: Pick<Deps, "database">): Promise<BackfillState | null> {
  const [row] = await deps.database.db.select().from(meta).where(eq(meta.key, META_KEY)).limit(1);
  return row ? (JSON.parse(row.value) as BackfillState) : null;
}

async function saveBackfill(deps: Pick<Deps, "database" | "clock">, state: BackfillState): Promise<void> {
  const value = JSON.stringify(state);
  const updatedAt = deps.clock.now();
  await deps.database.db.insert(meta).values({ key: META_KEY, value, updatedAt }).onConflictDoUpdate({ target: meta.key, set: { value, updatedAt } });
}

/** A new run from the start for the configured app. */
async function freshBackfill(deps: Pick<Deps, "database" | "clock" | "config">): Promise<BackfillState> {
  const state: BackfillState = {
    api_key: deps.config.STREAM_API_KEY!,
    run: Bun.randomUUIDv7(),
    phase: "users",
    after: [],
    sent: { users: 0, posts: 0, follows: 0, reactions: 0 },
    total: await countPhase(deps, "users"),
    started_at: deps.clock.now(),
    finished_at: null,
    ms: 0,
  };
  await saveBackfill(deps, state);
  return state;
}

/**
 * The backfill for the configured app as it stands, started when there is none (or it was for another app, or
 * `restart`). Null when Stream is off.
 */
export async function currentBackfill(deps: Pick<Deps, "database" | "clock" | "config">, { restart = false } = {}): Promise<BackfillState | null> {
  if (!streamEnabled(deps.config)) return null;
  const state = await readBackfill(deps);
  if (!restart && state?.api_key === deps.config.STREAM_API_KEY) return state;
  return freshBackfill(deps);
}

/**
 * At start: with Stream on and the backfill for this app not finished, makes sure its job is queued (again, if an
 * earlier one failed for good). Does not wait for it.
 */
export async function queueStreamBackfill(deps: Deps): Promise<void> {
  const state = await currentBackfill(deps);
  if (!state || state.phase === "done") return;
  const { created, job } = await deps.jobs.enqueue(
    STREAM_BACKFILL,
    { run: state.run },
    { dedupeKey: `${STREAM_BACKFILL}:${state.run}`, maxAttempts: STREAM_MIRROR_MAX_ATTEMPTS },
  );
  if (!created && job.status === "failed") await deps.jobs.retry(job.id);
  if (created || job.status === "failed")
    deps.log.info(state.sent.users ? "stream backfill resumes" : "stream backfill queued: sending what existed before Stream was on", progressFields(state));
}

/** Registers the backfill job when Stream is configured. */
export function registerStreamBackfill(deps: Deps): void {
  const client = streamClient(deps.config);
  if (!client) return;
  deps.jobs.register<{ run: string }>(STREAM_BACKFILL, (job, ctx) => runBackfillJob(deps, client, job, ctx.signal), {
    timeoutMs: 24 * 3_600_000,
    concurrency: 1,
  });
}

async function runBackfillJob(deps: Deps, client: StreamClient, job: JobInfo<{ run: string }>, signal: AbortSignal) {
  const state = await readBackfill(deps);
  if (state?.run !== job.payload.run || state.api_key !== deps.config.STREAM_API_KEY) return { skipped: "another backfill run replaced this one" };
  const done = await runBackfill(deps, client, { signal });
  return { sent: done.sent, ms: Math.round(done.ms) };
}

const sentLine = (s: BackfillState) => BACKFILL_PHASES.map((p) => `${s.sent[p].toLocaleString("en")} ${p}`).join(", ");
const rate = (s: BackfillState) => {
  const rows = BACKFILL_PHASES.reduce((n, p) => n + s.sent[p], 0);
  return s.ms > 0 ? `${Math.round(rows / (s.ms / 1000)).toLocaleString("en")} objects/s` : "";
};

/** "done <time>: 132 users, … in 1.2 s (2,000 objects/s)" or "posts 1,200 of 10,000 (so far: …)". */
export function describeBackfill(s: BackfillState): string {
  if (s.phase === "done") return `done ${new Date(s.finished_at ?? 0).toISOString()}: ${sentLine(s)} in ${(s.ms / 1000).toFixed(1)} s (${rate(s)})`;
  return `${s.phase} ${s.sent[s.phase].toLocaleString("en")} of ${s.total.toLocaleString("en")} (so far: ${sentLine(s)})`;
}

/**
 * Where the mirror stands, for people (`sidechain stream status`, `sidechain doctor`): the backfill for the configured
 * app, and the mirror's jobs by status (`failed`: given up after about a week; /admin/jobs retries them).
 */
export async function streamStatus(
  deps: Pick<Deps, "database"> & { config: Pick<Deps["config"], "STREAM_API_KEY"> },
): Promise<{ backfill: string; jobs: string; failed: number }> {
  const state = await readBackfill(deps);
  const backfill = !state
    ? "not started (the server starts it)"
    : state.api_key === deps.config.STREAM_API_KEY
      ? describeBackfill(state)
      : "not started for this app (the server starts it)";
  const rows = await deps.database.db.all<{ status: string; n: number }>(
    sql`SELECT status, count(*) AS n FROM jobs WHERE type IN (${STREAM_MIRROR}, ${STREAM_BACKFILL}) GROUP BY status ORDER BY status`,
  );
  const jobs = rows.length ? rows.map((j) => `${j.n} ${j.status}`).join(", ") : "none";
  return { backfill, jobs, failed: Number(rows.find((r) => r.status === "failed")?.n ?? 0) };
}

export const progressFields = (s: BackfillState) => ({
  phase: s.phase,
  ...(s.phase !== "done" ? { done: s.sent[s.phase], of: s.total } : {}),
  sent: BACKFILL_PHASES.map((p) => `${p} ${s.sent[p]}`).join(", "),
});

/**
 * Sends every remaining batch of the current run (the one saved in `meta`), saving the position after each, until
 * it is done. Throws when a call fails (the next run resumes) or `signal` aborts. `onProgress` hears every batch.
 */
export async function runBackfill(
  deps: Deps,
  client: StreamClient,
  opts: { signal?: AbortSignal; onProgress?: (s: BackfillState) => void } = {},
): Promise<BackfillState> {
  let state = (await readBackfill(deps)) ?? (await freshBackfill(deps));
  let batches = 0;
  while (state.phase !== "done") {
    opts.signal?.throwIfAborted();
    const started = performance.now();
    const phase = state.phase;
    const step = STEPS[phase] as Step<unknown>;
    const rows = await step.read(deps, state.after, BATCH);
    if (rows.length) {
      await step.send(deps, client, rows);
      await recheck(deps, step, rows);
      state = { ...state, after: step.cursor(rows.at(-1)), sent: { ...state.sent, [phase]: state.sent[phase] + rows.length } };
    } else {
      const next = BACKFILL_PHASES[BACKFILL_PHASES.indexOf(phase) + 1];
      state = next
        ? { ...state, phase: next, after: [], total: await countPhase(deps, next) }
        : { ...state, phase: "done", after: [], total: 0, finished_at: deps.clock.now() };
    }
    state.ms += performance.now() - started;
    await saveBackfill(deps, state);
    opts.onProgress?.(state);
    // The log hears every 10th batch and each phase's end (a large community has thousands of batches).
    if (!rows.length || ++batches % 10 === 0)
      deps.log.info(state.phase === "done" ? "stream backfill done" : "stream backfill progress", progressFields(state));
  }
  return state;
}

/** Anything whose state differs from what the batch sent (changed or gone meanwhile) gets a mirror job. */
async function recheck<R>(deps: Deps, step: Step<R>, rows: R[]): Promise<void> {
  const now = new Map(
    (await step.range(deps, step.cursor(rows[0]!), step.cursor(rows.at(-1)!))).map((r) => [step.key(r), JSON.stringify(step.value(deps, r))]),
  );
  for (const r of rows) if (now.get(step.key(r)) !== JSON.stringify(step.value(deps, r))) await step.mirror(deps, r);
}

// ---------------------------------------------------------------------------------------------------------------
// The four phases

type Step<R> = {
  /** The next `limit` objects after the key `after` (all from the start when empty), in key order. */
  read(deps: Deps, after: string[], limit: number): Promise<R[]>;
  /** The objects whose keys lie between `first` and `last`, both included, as they are now. */
  range(deps: Deps, first: string[], last: string[]): Promise<R[]>;
  cursor(r: R): string[];
  key(r: R): string;
  /** What is sent for it (compared after the batch). */
  value(deps: Deps, r: R): unknown;
  send(deps: Deps, client: StreamClient, rows: R[]): Promise<void>;
  /** Writes the live mirror job of the object. */
  mirror(deps: Deps, r: R): Promise<void>;
};

/** Keyset conditions on one or two key columns (row values compare in order, as the primary keys sort). */
const after = (cols: SQLiteColumn[], key: string[]): SQL | undefined =>
  !key.length ? undefined : cols.length === 1 ? gt(cols[0]!, key[0]!) : sql`(${cols[0]}, ${cols[1]}) > (${key[0]}, ${key[1]})`;
const between = (cols: SQLiteColumn[], first: string[], last: string[]): SQL =>
  cols.length === 1
    ? and(gte(cols[0]!, first[0]!), lte(cols[0]!, last[0]!))!
    : sql`(${cols[0]}, ${cols[1]}) >= (${first[0]}, ${first[1]}) AND (${cols[0]}, ${cols[1]}) <= (${last[0]}, ${last[1]})`;

/** A batch call; when Stream refuses the batch as a whole, each object through the mirror's own steps. */
async function batchOr<R>(call: () => Promise<unknown>, rows: R[], one: (r: R) => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (err) {
    const status = (err as { metadata?: { responseCode?: number } }).metadata?.responseCode;
    if (status !== 400 && !isNotFound(err)) throw err;
    for (const r of rows) await one(r);
  }
}

// Each phase reads its table in primary-key order, batch after batch, so its filter must not lead the plan: with an
// index on the filter column SQLite would read every matching row and sort them for each batch. A unary plus keeps
// the column out of index choice; reactions test their loop with EXISTS (a primary-key lookup per reaction).
const approved = sql`+${users.approval} = 'approved'`;
const userStep: Step<UserRow> = {
  read: (deps, key, limit) =>
    deps.database.db
      .select()
      .from(users)
      .where(and(approved, after([users.id], key)))
      .orderBy(asc(users.id))
      .limit(limit),
  range: (deps, first, last) =>
    deps.database.db
      .select()
      .from(users)
      .where(and(approved, between([users.id], first, last))),
  cursor: (u) => [u.id],
  key: (u) => u.id,
  value: (deps, u) => streamUser(deps, u),
  async send(deps, client, rows) {
    await client.upsertUsers(rows.map((u) => streamUser(deps, u)));
    const feeds = rows.flatMap((u) => (["user", "timeline"] as const).map((g) => ({ feed_group_id: g, feed_id: u.id, created_by_id: u.id })));
    for (let i = 0; i < feeds.length; i += 2 * BATCH) {
      const part = feeds.slice(i, i + 2 * BATCH);
      await batchOr(
        () => client.feeds.createFeedsBatch({ feeds: part }),
        rows.filter((u) => part.some((f) => f.feed_id === u.id)),
        (u) => apply(deps, client, { op: "create-account", user: streamUser(deps, u) }),
      );
    }
  },
  // Gone or changed: its account job upserts it with its feeds, or deletes it.
  mirror: (deps, u) => mirrorUserCreated(deps, null, u.id),
};

const readyPost = sql`+${posts.status} = 'ready'`;
const postStep: Step<PostRow> = {
  read: (deps, key, limit) =>
    deps.database.db
      .select()
      .from(posts)
      .where(and(readyPost, after([posts.id], key)))
      .orderBy(asc(posts.id))
      .limit(limit),
  range: (deps, first, last) =>
    deps.database.db
      .select()
      .from(posts)
      .where(and(readyPost, between([posts.id], first, last))),
  cursor: (p) => [p.id],
  key: (p) => p.id,
  value: (deps, p) => streamActivity(deps, p),
  send: (deps, client, rows) =>
    batchOr(
      () => client.feeds.upsertActivities({ activities: rows.map((p) => streamActivity(deps, p)), create_users: true }),
      rows,
      (p) => apply(deps, client, { op: "add-activity", activity: streamActivity(deps, p) }),
    ),
  mirror: (deps, p) => mirrorPostReady(deps, null, p.id, p.userId),
};

type FollowRow = { followerId: string; followeeId: string };
const followCols = [follows.followerId, follows.followeeId];
const followFields = { followerId: follows.followerId, followeeId: follows.followeeId };
const followStep: Step<FollowRow> = {
  read: (deps, key, limit) =>
    deps.database.db.select(followFields).from(follows).where(after(followCols, key)).orderBy(asc(follows.followerId), asc(follows.followeeId)).limit(limit),
  range: (deps, first, last) =>
    deps.database.db
      .select(followFields)
      .from(follows)
      .where(between(followCols, first, last)),
  cursor: (f) => [f.followerId, f.followeeId],
  key: (f) => `${f.followerId} ${f.followeeId}`,
  value: () => true,
  send: (deps, client, rows) =>
    batchOr(
      () => client.feeds.getOrCreateFollows({ follows: rows.map((f) => streamFollow(f.followerId, f.followeeId)), create_users: true }),
      rows,
      (f) => apply(deps, client, { op: "follow", ...f }),
    ),
  mirror: (deps, f) => mirrorFollow(deps, null, f.followerId, f.followeeId),
};

type ReactionRow = { userId: string; postId: string; emoji: string };
const reactionCols = [reactions.userId, reactions.postId];
const reactionFields = { userId: reactions.userId, postId: reactions.postId, emoji: reactions.emoji };
/** Reactions on ready loops (only those are activities in Stream). */
const onReadyLoop = sql`EXISTS (SELECT 1 FROM ${posts} WHERE ${posts.id} = ${reactions.postId} AND ${posts.status} = 'ready')`;
const reactionsOnReady = (deps: Deps, where: SQL | undefined) =>
  deps.database.db.select(reactionFields).from(reactions).where(and(where, onReadyLoop)).orderBy(asc(reactions.userId), asc(reactions.postId));
const reactionStep: Step<ReactionRow> = {
  read: (deps, key, limit) => reactionsOnReady(deps, after(reactionCols, key)).limit(limit),
  range: (deps, first, last) => reactionsOnReady(deps, between(reactionCols, first, last)),
  cursor: (r) => [r.userId, r.postId],
  key: (r) => `${r.userId} ${r.postId}`,
  value: (_deps, r) => r.emoji,
  async send(deps, client, rows) {
    for (let i = 0; i < rows.length; i += REACTIONS_AT_ONCE)
      await Promise.all(
        rows.slice(i, i + REACTIONS_AT_ONCE).map((r) => apply(deps, client, { op: "react", reaction: streamReaction(r.userId, r.postId, r.emoji) })),
      );
  },
  mirror: (deps, r) => mirrorReaction(deps, null, r.userId, r.postId),
};

const STEPS: Record<BackfillPhase, Step<UserRow> | Step<PostRow> | Step<FollowRow> | Step<ReactionRow>> = {
  users: userStep,
  posts: postStep,
  follows: followStep,
  reactions: reactionStep,
};

async function countPhase(deps: Pick<Deps, "database">, phase: BackfillPhase): Promise<number> {
  const db = deps.database.db;
  const n = (rows: { n: number }[]) => Number(rows[0]?.n ?? 0);
  const c = sql<number>`count(*)`.as("n");
  switch (phase) {
    case "users":
      return n(await db.select({ n: c }).from(users).where(approved));
    case "posts":
      return n(await db.select({ n: c }).from(posts).where(readyPost));
    case "follows":
      return n(await db.select({ n: c }).from(follows));
    case "reactions":
      return n(
        await db
          .select({ n: c })
          .from(reactions)
          .innerJoin(posts, and(eq(posts.id, reactions.postId), readyPost)),
      );
  }
}

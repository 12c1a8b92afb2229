// The Stream.io mirror: an optional copy of users, posts, follows and reactions in Stream's activity feeds (v3,
// through @stream-io/node-sdk), on only when STREAM_API_KEY and STREAM_API_SECRET are set (STREAM_BASE_URL points
// the SDK at another endpoint, e.g. a test server). Our database stays the source of truth for every API answer.
//
// How nothing is lost and nothing is slowed down: a change to a mirrored object writes a `stream-mirror` job in the
// same transaction as the change (the outbox pattern: the job exists if and only if the change committed). Requests
// never call Stream. The job queue retries failed calls with backoff for days (STREAM_MIRROR_MAX_ATTEMPTS).
//
// How retries and reordering stay harmless: a job names an object, not a diff. When it runs it reads the object's
// current state from our database and makes Stream match it with calls that are idempotent on Stream's side (ids
// are our ids: the activity id is the post id, follows and reactions are keyed by their users and feeds):
//   user      users upsert + getOrCreate feeds user:<id> and timeline:<id>
//   post      ready → getOrCreate user:<owner>, addActivity {id: post id} (creates or updates); gone → deleteActivity
//   follow    row present → getOrCreateFollow timeline:<follower> → user:<followee>; absent → getOrCreateUnfollow
//   reaction  row present → addActivityReaction type "like", enforce_unique, custom.emoji; absent → delete "like"
// After its calls a job reads the state again and repeats when it changed meanwhile, so a slow job can never leave
// Stream with an older state than a faster, newer one. A job that finds a later job for the same object (written
// after it, not failed for good) skips its calls: that one reads the same or a later state. After an outage each
// object is sent once, not once per change.
import { StreamClient } from "@stream-io/node-sdk";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { follows, posts, reactions, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { JobInfo } from "../jobs/queue.ts";
import { newId } from "../lib/crypto.ts";
import { loopMetadata, loopObject, mediaUrls } from "../posts/models.ts";

export const STREAM_MIRROR = "stream-mirror";
/** With the queue's backoff capped at JOB_BACKOFF_MAX_MS (5 min by default) this keeps trying for about a week. */
export const STREAM_MIRROR_MAX_ATTEMPTS = 2000;
/** Timeout of one call to Stream (the SDK's default is 3 s). */
const STREAM_TIMEOUT_MS = 10_000;

export type MirrorObject =
  | { kind: "user"; userId: string }
  | { kind: "post"; postId: string; userId: string }
  | { kind: "follow"; followerId: string; followeeId: string }
  | { kind: "reaction"; userId: string; postId: string };

/** The job payload: the object and this event's dedupe key (the job itself does not see its key). */
export type MirrorPayload = MirrorObject & { key: string };

type StreamConfig = Pick<Deps["config"], "STREAM_API_KEY" | "STREAM_API_SECRET" | "STREAM_BASE_URL">;

export const streamEnabled = (config: StreamConfig) => Boolean(config.STREAM_API_KEY && config.STREAM_API_SECRET);

function objectKey(o: MirrorObject): string {
  switch (o.kind) {
    case "user":
      return `user:${o.userId}`;
    case "post":
      return `post:${o.postId}`;
    case "follow":
      return `follow:${o.followerId}:${o.followeeId}`;
    case "reaction":
      return `reaction:${o.userId}:${o.postId}`;
  }
}
const keyPrefix = (o: MirrorObject) => `stream:${objectKey(o)}:`;

/**
 * Records that `o` changed: a stream-mirror job written in `tx`, the transaction of the change, so it exists if and
 * only if the change committed. Pass null only where the change was not made in a transaction: the job is then
 * written on its own right after it (a crash in between would miss that one change until the object's next one).
 * A no-op when Stream is off. Each event has its own dedupe key, `stream:<object>:<event id>` (event ids are UUIDv7,
 * so a later event of one object sorts after an earlier one: that is how a job finds newer ones on the index).
 */
export async function mirrorChange(deps: Pick<Deps, "config" | "jobs">, tx: Db | null, o: MirrorObject): Promise<void> {
  if (!streamEnabled(deps.config)) return;
  const key = keyPrefix(o) + newId();
  await deps.jobs.enqueue(STREAM_MIRROR, { ...o, key }, { ...(tx ? { tx } : {}), dedupeKey: key, maxAttempts: STREAM_MIRROR_MAX_ATTEMPTS });
}

type MirrorDeps = Pick<Deps, "config" | "jobs">;

/** A user signed up or changed their profile. */
export const mirrorUserUpsert = (deps: MirrorDeps, tx: Db | null, userId: string) => mirrorChange(deps, tx, { kind: "user", userId });
/** A post became ready (added as an activity to user:<owner>). */
export const mirrorPostReady = (deps: MirrorDeps, tx: Db | null, postId: string, userId: string) => mirrorChange(deps, tx, { kind: "post", postId, userId });
/** A mirrored (ready) post was deleted. Same job as mirrorPostReady: it reads which of the two is true. */
export const mirrorPostDeleted = mirrorPostReady;
/** A follow was created or removed (the job reads which). */
export const mirrorFollow = (deps: MirrorDeps, tx: Db | null, followerId: string, followeeId: string) =>
  mirrorChange(deps, tx, { kind: "follow", followerId, followeeId });
/** A reaction was set, changed or removed (the job reads which). */
export const mirrorReaction = (deps: MirrorDeps, tx: Db | null, userId: string, postId: string) => mirrorChange(deps, tx, { kind: "reaction", userId, postId });

// ---------------------------------------------------------------------------------------------------------------
// The job

type Desired =
  | { op: "upsert-user"; user: { id: string; name: string; image?: string; custom: { username: string } } }
  | { op: "add-activity"; ownerId: string; activity: { id: string; type: string; text: string; custom: Record<string, unknown> } }
  | { op: "delete-activity"; id: string }
  | { op: "follow"; source: string; target: string; followerId: string; followeeId: string }
  | { op: "unfollow"; source: string; target: string }
  | { op: "react"; activityId: string; userId: string; emoji: string }
  | { op: "unreact"; activityId: string; userId: string }
  | { op: "nothing" };

/** Registers the job handler when Stream is configured; without it queued mirror jobs wait (nothing is dropped). */
export function registerStreamMirror(deps: Deps): void {
  const { STREAM_API_KEY: apiKey, STREAM_API_SECRET: secret, STREAM_BASE_URL: basePath } = deps.config;
  if (!apiKey || !secret) return;
  const client = new StreamClient(apiKey, secret, { timeout: STREAM_TIMEOUT_MS, ...(basePath ? { basePath } : {}) });
  deps.jobs.register<MirrorPayload>(STREAM_MIRROR, (job) => runMirrorJob(deps, client, job), { timeoutMs: 6 * STREAM_TIMEOUT_MS * 3, concurrency: 4 });
}

export async function runMirrorJob(deps: Deps, client: StreamClient, job: JobInfo<MirrorPayload>) {
  const o = job.payload;
  if (await superseded(deps, job.id, o)) return { skipped: "superseded by a later change of the same object" };
  for (let round = 0; round < 3; round++) {
    const desired = await readDesired(deps, o);
    await apply(client, desired);
    const after = await readDesired(deps, o);
    if (JSON.stringify(after) === JSON.stringify(desired)) return { op: desired.op };
  }
  throw new Error("the object kept changing while it was mirrored");
}

/**
 * Has a later change of the same object been recorded (a job written after ours that has not failed for good)?
 * Such a job reads the object after that change, so after ours too: when it is queued it will, when it ran or runs
 * it did. Either way our calls would add nothing.
 */
function superseded(deps: Pick<Deps, "jobs">, jobId: string, o: MirrorPayload): Promise<boolean> {
  const prefix = keyPrefix(o);
  if (!o.key?.startsWith(prefix)) return Promise.resolve(false);
  return deps.jobs.hasLaterJob(jobId, prefix);
}

async function readDesired(deps: Deps, o: MirrorObject): Promise<Desired> {
  const db = deps.database.db;
  switch (o.kind) {
    case "user": {
      const [u] = await db.select().from(users).where(eq(users.id, o.userId)).limit(1);
      if (!u) return { op: "nothing" };
      const image = u.avatarKey ? deps.mediaUrl(u.avatarKey) : undefined;
      return { op: "upsert-user", user: { id: u.id, name: u.displayName || u.username, ...(image ? { image } : {}), custom: { username: u.username } } };
    }
    case "post": {
      const [p] = await db.select().from(posts).where(eq(posts.id, o.postId)).limit(1);
      if (p?.status !== "ready") return { op: "delete-activity", id: o.postId };
      return {
        op: "add-activity",
        ownerId: p.userId,
        activity: {
          id: p.id,
          type: "post",
          text: p.title,
          // The loop's fields of the post as the API shows it, from the same definitions (posts/models.ts).
          custom: { object: loopObject(p.id), ...mediaUrls(deps, p), ...loopMetadata(p) },
        },
      };
    }
    case "follow": {
      const source = `timeline:${o.followerId}`;
      const target = `user:${o.followeeId}`;
      const [f] = await db
        .select({ at: follows.createdAt })
        .from(follows)
        .where(and(eq(follows.followerId, o.followerId), eq(follows.followeeId, o.followeeId)))
        .limit(1);
      return f ? { op: "follow", source, target, followerId: o.followerId, followeeId: o.followeeId } : { op: "unfollow", source, target };
    }
    case "reaction": {
      const [p] = await db.select({ status: posts.status }).from(posts).where(eq(posts.id, o.postId)).limit(1);
      // A deleted post's activity (and its reactions) goes with the post job; an unpublished one was never sent.
      if (p?.status !== "ready") return { op: "nothing" };
      const [r] = await db
        .select({ emoji: reactions.emoji })
        .from(reactions)
        .where(and(eq(reactions.userId, o.userId), eq(reactions.postId, o.postId)))
        .limit(1);
      return r ? { op: "react", activityId: o.postId, userId: o.userId, emoji: r.emoji } : { op: "unreact", activityId: o.postId, userId: o.userId };
    }
  }
}

const status = (err: unknown) => (err as { metadata?: { responseCode?: number } })?.metadata?.responseCode;
/** Deleting what is already gone is success: the call is repeated after a lost answer or a retry. */
async function ignoreNotFound(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    if (status(err) !== 404) throw err;
  }
}

const ensureFeed = (client: StreamClient, group: "user" | "timeline", userId: string) =>
  client.feeds.getOrCreateFeed({ feed_group_id: group, feed_id: userId, user_id: userId });

async function apply(client: StreamClient, d: Desired): Promise<void> {
  switch (d.op) {
    case "nothing":
      return;
    case "upsert-user":
      await client.upsertUsers([d.user]);
      await ensureFeed(client, "user", d.user.id);
      await ensureFeed(client, "timeline", d.user.id);
      return;
    case "add-activity":
      await ensureFeed(client, "user", d.ownerId);
      // The activity id is the post id: adding it again (a retry) updates the same activity, never a second one.
      await client.feeds.addActivity({ ...d.activity, feeds: [`user:${d.ownerId}`], user_id: d.ownerId });
      return;
    case "delete-activity":
      return ignoreNotFound(client.feeds.deleteActivity({ id: d.id, hard_delete: true }));
    case "follow":
      await ensureFeed(client, "timeline", d.followerId);
      await ensureFeed(client, "user", d.followeeId);
      await client.feeds.getOrCreateFollow({ source: d.source, target: d.target });
      return;
    case "unfollow":
      return ignoreNotFound(client.feeds.getOrCreateUnfollow({ source: d.source, target: d.target }));
    case "react":
      // One reaction per user per activity, like ours: enforce_unique replaces the user's previous one.
      await client.feeds.addActivityReaction({ activity_id: d.activityId, type: "like", user_id: d.userId, enforce_unique: true, custom: { emoji: d.emoji } });
      return;
    case "unreact":
      return ignoreNotFound(client.feeds.deleteActivityReaction({ activity_id: d.activityId, type: "like", user_id: d.userId }));
  }
}

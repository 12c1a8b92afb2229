// The Stream.io mirror: an optional copy of users, posts, follows and reactions in Stream's activity feeds (v3,
// through @stream-io/node-sdk), on only when STREAM_API_KEY and STREAM_API_SECRET are set (STREAM_BASE_URL points
// the SDK at another endpoint, e.g. a test server). Our database stays the source of truth for every API answer.
//
// How nothing is lost and nothing is slowed down: a change to a mirrored object writes a `stream-mirror` job in the
// same transaction as the change (the outbox pattern: the job exists if and only if the change committed). Requests
// never call Stream. The job queue retries failed calls with backoff for days (STREAM_MIRROR_MAX_ATTEMPTS). What
// existed before Stream was switched on is sent by the backfill (stream-backfill.ts).
//
// How retries and reordering stay harmless: a job names an object, not a diff. When it runs it reads the object's
// current state from our database and makes Stream match it with calls that are idempotent on Stream's side (ids
// are our ids: the activity id is the post id, follows and reactions are keyed by their users and feeds):
//   user      approved → users upsert; deleted → both feeds and the user deleted (hard)
//   account   the same upsert, then getOrCreate user:<id> and timeline:<id>: once, when the account is created
//             (profile changes write `user` jobs, which do not touch the feeds)
//   post      ready → addActivity {id: post id} (creates or updates); gone → deleteActivity (hard)
//   follow    row present → getOrCreateFollow timeline:<follower> → user:<followee>; absent → getOrCreateUnfollow
//   reaction  row present → addActivityReaction type "like", enforce_unique, custom.emoji; absent → delete "like"
// After its calls a job reads the state again and repeats when it changed meanwhile, so a slow job can never leave
// Stream with an older state than a faster, newer one. A job that finds a later job for the same object (written
// after it, not failed for good) skips its calls: that one reads the same or a later state. After an outage each
// object is sent once, not once per change.
//
// How order between objects stays harmless (several workers, or a live job before the backfill got there): a call
// whose prerequisite Stream does not have yet answers "does not exist" (HTTP 404, or Stream's error code 16 with
// another status). The job then makes the prerequisite true with the prerequisite's own step, read from our
// database, and calls once more: a post's missing feed is created, a reaction's missing activity is added (or, when
// the post is gone, there is nothing to do), a feed's missing user is upserted. Calls that name users pass
// `create_users: true`, so a user Stream does not know yet is created (and filled in by their own job). Deletes
// treat "does not exist" as done. Feeds are created once with the account and again only when Stream says one is
// missing; a post or a follow costs one call.
import { StreamClient } from "@stream-io/node-sdk";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { follows, posts, reactions, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { JobInfo } from "../jobs/queue.ts";
import { newId } from "../lib/crypto.ts";
import { loopMetadata, loopObject, mediaUrls, type PostRow } from "../posts/models.ts";
import type { UserRow } from "../users/service.ts";

export const STREAM_MIRROR = "stream-mirror";
/** With the queue's backoff capped at JOB_BACKOFF_MAX_MS (5 min by default) this keeps trying for about a week. */
export const STREAM_MIRROR_MAX_ATTEMPTS = 2000;
/** Timeout of one call to Stream (the SDK's default is 3 s). */
const STREAM_TIMEOUT_MS = 10_000;
/** Stream's error code for "does not exist" (its API error codes, shared by chat, video and feeds). */
export const STREAM_DOES_NOT_EXIST = 16;

export type MirrorObject =
  | { kind: "user"; userId: string }
  | { kind: "account"; userId: string }
  | { kind: "post"; postId: string; userId: string }
  | { kind: "follow"; followerId: string; followeeId: string }
  | { kind: "reaction"; userId: string; postId: string };

/** The job payload: the object and this event's dedupe key (the job itself does not see its key). */
export type MirrorPayload = MirrorObject & { key: string };

type StreamConfig = Pick<Deps["config"], "STREAM_API_KEY" | "STREAM_API_SECRET" | "STREAM_BASE_URL">;

export const streamEnabled = (config: StreamConfig) => Boolean(config.STREAM_API_KEY && config.STREAM_API_SECRET);

/** The SDK client for the configured app, or null when Stream is off. */
export function streamClient(config: StreamConfig): StreamClient | null {
  const { STREAM_API_KEY: apiKey, STREAM_API_SECRET: secret, STREAM_BASE_URL: basePath } = config;
  if (!apiKey || !secret) return null;
  return new StreamClient(apiKey, secret, { timeout: STREAM_TIMEOUT_MS, ...(basePath ? { basePath } : {}) });
}

function objectKey(o: MirrorObject): string {
  switch (o.kind) {
    case "user":
    case "account":
      return `${o.kind}:${o.userId}`;
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

/** An account was created (or approved): the user and, once, their two feeds. */
export const mirrorUserCreated = (deps: MirrorDeps, tx: Db | null, userId: string) => mirrorChange(deps, tx, { kind: "account", userId });
/** A user changed their profile, or their account was deleted (the job reads which). */
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
// What Stream should hold, from our rows (the jobs and the backfill use the same definitions)

export type StreamUser = { id: string; name: string; image?: string; custom: { username: string } };
export type StreamActivity = { id: string; type: string; feeds: string[]; user_id: string; text: string; custom: Record<string, unknown> };
export type StreamReaction = { activity_id: string; user_id: string; type: "like"; custom: { emoji: string } };

/** Users are mirrored once staff let them in: a sign-up waiting for approval is not (README "Invites and approval"). */
export const isMirroredUser = (u: Pick<UserRow, "approval">) => u.approval === "approved";

export function streamUser(deps: Pick<Deps, "mediaUrl">, u: UserRow): StreamUser {
  const image = u.avatarKey ? deps.mediaUrl(u.avatarKey) : undefined;
  return { id: u.id, name: u.displayName || u.username, ...(image ? { image } : {}), custom: { username: u.username } };
}

export function streamActivity(deps: Pick<Deps, "mediaUrl">, p: PostRow): StreamActivity {
  return {
    id: p.id,
    type: "post",
    feeds: [`user:${p.userId}`],
    user_id: p.userId,
    text: p.title,
    // The loop's fields of the post as the API shows it, from the same definitions (posts/models.ts).
    custom: { object: loopObject(p.id), ...mediaUrls(deps, p), ...loopMetadata(p) },
  };
}

export const streamFollow = (followerId: string, followeeId: string) => ({ source: `timeline:${followerId}`, target: `user:${followeeId}` });

/** One reaction per user per loop, like ours: type "like" with the emoji in custom (enforce_unique keeps it one). */
export const streamReaction = (userId: string, postId: string, emoji: string): StreamReaction => ({
  activity_id: postId,
  user_id: userId,
  type: "like",
  custom: { emoji },
});

export type Desired =
  | { op: "upsert-user"; user: StreamUser }
  | { op: "delete-user"; userId: string }
  | { op: "create-account"; user: StreamUser }
  | { op: "add-activity"; activity: StreamActivity }
  | { op: "delete-activity"; id: string }
  | { op: "follow"; followerId: string; followeeId: string }
  | { op: "unfollow"; followerId: string; followeeId: string }
  | { op: "react"; reaction: StreamReaction }
  | { op: "unreact"; activityId: string; userId: string }
  | { op: "nothing" };

/** What Stream should hold for `o`, read from our database now. */
export async function readDesired(deps: Deps, o: MirrorObject): Promise<Desired> {
  const db = deps.database.db;
  switch (o.kind) {
    case "user":
    case "account": {
      const [u] = await db.select().from(users).where(eq(users.id, o.userId)).limit(1);
      // A deleted account leaves Stream too. One waiting for approval was never sent.
      if (!u) return { op: "delete-user", userId: o.userId };
      if (!isMirroredUser(u)) return { op: "nothing" };
      return { op: o.kind === "user" ? "upsert-user" : "create-account", user: streamUser(deps, u) };
    }
    case "post": {
      const [p] = await db.select().from(posts).where(eq(posts.id, o.postId)).limit(1);
      return p?.status === "ready" ? { op: "add-activity", activity: streamActivity(deps, p) } : { op: "delete-activity", id: o.postId };
    }
    case "follow": {
      const [f] = await db
        .select({ at: follows.createdAt })
        .from(follows)
        .where(and(eq(follows.followerId, o.followerId), eq(follows.followeeId, o.followeeId)))
        .limit(1);
      return { op: f ? "follow" : "unfollow", followerId: o.followerId, followeeId: o.followeeId };
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
      return r ? { op: "react", reaction: streamReaction(o.userId, o.postId, r.emoji) } : { op: "unreact", activityId: o.postId, userId: o.userId };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The job

/** Registers the job handlers when Stream is configured; without it queued mirror jobs wait (nothing is dropped). */
export function registerStreamMirror(deps: Deps): void {
  const client = streamClient(deps.config);
  if (!client) return;
  deps.jobs.register<MirrorPayload>(STREAM_MIRROR, (job) => runMirrorJob(deps, client, job), { timeoutMs: 6 * STREAM_TIMEOUT_MS * 3, concurrency: 4 });
}

export async function runMirrorJob(deps: Deps, client: StreamClient, job: JobInfo<MirrorPayload>) {
  const o = job.payload;
  if (await superseded(deps, job.id, o)) return { skipped: "superseded by a later change of the same object" };
  for (let round = 0; round < 3; round++) {
    const desired = await readDesired(deps, o);
    await apply(deps, client, desired);
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

/** Stream said the object (or one the call names) does not exist: HTTP 404, or its error code 16 with any status. */
export function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; metadata?: { responseCode?: number } } | null;
  return e?.metadata?.responseCode === 404 || e?.code === STREAM_DOES_NOT_EXIST;
}

/** Deleting what is already gone is success: the call is repeated after a lost answer or a retry. */
async function ignoreNotFound(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Runs `call`; when Stream says something it names does not exist, makes `prerequisite` true and calls once more. */
async function withPrerequisite(call: () => Promise<unknown>, prerequisite: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // false: the prerequisite cannot be made true (e.g. the post is gone), so there is nothing left to do.
    if ((await prerequisite()) === false) return;
    await call();
  }
}

/** Creates (or finds) one feed of a user; a user Stream does not know is upserted from our row first. */
async function ensureFeed(deps: Deps, client: StreamClient, group: "user" | "timeline", userId: string): Promise<boolean> {
  let gone = false;
  await withPrerequisite(
    () => client.feeds.getOrCreateFeed({ feed_group_id: group, feed_id: userId, user_id: userId }),
    async () => {
      const d = await readDesired(deps, { kind: "user", userId });
      if (d.op !== "upsert-user") return !(gone = true);
      await client.upsertUsers([d.user]);
    },
  );
  return !gone;
}

/** Makes Stream hold `d`. Exported for the backfill, which sends one object this way when its batch call cannot. */
export async function apply(deps: Deps, client: StreamClient, d: Desired): Promise<void> {
  switch (d.op) {
    case "nothing":
      return;
    case "upsert-user":
      await client.upsertUsers([d.user]);
      return;
    case "delete-user":
      for (const group of ["user", "timeline"]) await ignoreNotFound(client.feeds.deleteFeed({ feed_group_id: group, feed_id: d.userId, hard_delete: true }));
      await ignoreNotFound(client.deleteUsers({ user_ids: [d.userId], user: "hard" }));
      return;
    case "create-account":
      await client.upsertUsers([d.user]);
      if (await ensureFeed(deps, client, "user", d.user.id)) await ensureFeed(deps, client, "timeline", d.user.id);
      return;
    case "add-activity":
      // The activity id is the post id: adding it again (a retry) updates the same activity, never a second one.
      return withPrerequisite(
        () => client.feeds.addActivity({ ...d.activity, create_users: true }),
        () => ensureFeed(deps, client, "user", d.activity.user_id),
      );
    case "delete-activity":
      return ignoreNotFound(client.feeds.deleteActivity({ id: d.id, hard_delete: true }));
    case "follow":
      return withPrerequisite(
        () => client.feeds.getOrCreateFollow({ ...streamFollow(d.followerId, d.followeeId), create_users: true }),
        async () => (await ensureFeed(deps, client, "timeline", d.followerId)) && ensureFeed(deps, client, "user", d.followeeId),
      );
    case "unfollow":
      return ignoreNotFound(client.feeds.getOrCreateUnfollow(streamFollow(d.followerId, d.followeeId)));
    case "react":
      // One reaction per user per activity, like ours: enforce_unique replaces the user's previous one. A reaction
      // that arrives before its activity adds the activity first (from the post as it is now).
      return withPrerequisite(
        () => client.feeds.addActivityReaction({ ...d.reaction, enforce_unique: true, create_users: true }),
        async () => {
          const post = await readDesired(deps, { kind: "post", postId: d.reaction.activity_id, userId: "" });
          if (post.op !== "add-activity") return false;
          await apply(deps, client, post);
        },
      );
    case "unreact":
      return ignoreNotFound(client.feeds.deleteActivityReaction({ activity_id: d.activityId, type: "like", user_id: d.userId }));
  }
}

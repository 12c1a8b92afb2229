// Notifications: someone followed you, reacted to your loop, a producer you follow posted a loop, someone commented
// on your loop, replied to your comment or mentioned you in a comment (README "Comments"), reposted your loop (README
// "Reposts": the one kind whose row goes when the event is undone, social/reposts.ts).
//
// One row per event *kind and subject*, named by its dedupe_key (unique in the schema):
//   follow:<actor>:<followee>          reaction:<actor>:<post>          new_post:<post>:<follower>
//   comment:<comment>:<recipient>      reply:<comment>:<recipient>      mention:<comment>:<recipient>
//   repost:<actor>:<post>
// Repeating an event (follow, unfollow, follow; react, unreact, react; a retried job) never adds a row. The
// repeat updates the emoji of a reaction notification (so it shows the current one) and leaves everything else
// alone: created_at, seen_at and read_at stay as they were, so toggling a reaction cannot push a notification back
// to the top or make it unread again (no spam, no badge bumps). Undoing an event (unreact, unfollow) keeps the row:
// it records that the event happened. A user is never notified of their own actions.
import { and, desc, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { comments, follows, notifications, posts, users } from "../db/schema.ts";
import type { Clock, Deps } from "../deps.ts";
import { publishNotification } from "../realtime/events.ts";
import type { Page } from "../http/pagination.ts";
import { toPublicUser, viewerExtras } from "../users/service.ts";
import type { PublicUserT } from "../users/models.ts";

export type NotificationKind = "follow" | "reaction" | "new_post" | "repost" | CommentNotificationKind;
/** On your loop (comment), on your comment (reply), or naming you with @username (mention). */
export type CommentNotificationKind = "comment" | "reply" | "mention";

export type NewNotification =
  | { kind: "follow"; userId: string; actorId: string }
  | { kind: "reaction"; userId: string; actorId: string; postId: string; emoji: string }
  | { kind: "new_post"; userId: string; actorId: string; postId: string }
  | { kind: "repost"; userId: string; actorId: string; postId: string }
  | { kind: CommentNotificationKind; userId: string; actorId: string; postId: string; commentId: string };

/** The key that makes repeats of one event land on one row. */
export function notificationDedupeKey(n: NewNotification): string {
  switch (n.kind) {
    case "follow":
      return `follow:${n.actorId}:${n.userId}`;
    case "reaction":
      return `reaction:${n.actorId}:${n.postId}`;
    case "new_post":
      return `new_post:${n.postId}:${n.userId}`;
    case "repost":
      return `repost:${n.actorId}:${n.postId}`;
    default:
      return `${n.kind}:${n.commentId}:${n.userId}`;
  }
}

/**
 * Creates a notification, or finds the one this event already made (one INSERT ... ON CONFLICT on dedupe_key,
 * never a read before the write). Call it inside the transaction that records the event (`tx`), so both commit
 * together. Returns created:false (and writes nothing) when the actor is the recipient.
 */
export async function createNotification(deps: { clock: Clock }, tx: Db, n: NewNotification): Promise<{ created: boolean }> {
  // never notify yourself
  if (n.actorId === n.userId) return { created: false };
  const now = deps.clock.now();
  const emoji = n.kind === "reaction" ? n.emoji : null;
  const rows = await tx
    .insert(notifications)
    .values({
      id: Bun.randomUUIDv7(),
      userId: n.userId,
      actorId: n.actorId,
      kind: n.kind,
      postId: n.kind === "follow" ? null : n.postId,
      commentId: "commentId" in n ? n.commentId : null,
      emoji,
      dedupeKey: notificationDedupeKey(n),
      createdAt: now,
    })
    .onConflictDoUpdate({
      target: notifications.dedupeKey,
      // Only the emoji follows the latest reaction; time and read state stay (see the header).
      set: { emoji: sql`excluded.emoji` },
    })
    .returning({ createdAt: notifications.createdAt });
  // SQLite's RETURNING gives the row after the upsert either way: it is new when its created_at is this call's time
  // (a repeat within the same millisecond also reads as new; `created` is informative only, e.g. for a push).
  return { created: rows[0]?.createdAt === now };
}

/**
 * Tells every follower of a post's author that it was published: one INSERT ... SELECT over the followers (the
 * follows_followee index), whatever their number, in the transaction that made the post ready. A repeat (a job run
 * twice) adds nothing: the dedupe keys new_post:<post>:<follower> already exist.
 */
export async function notifyFollowersOfNewPost(deps: { clock: Clock }, tx: Db, postId: string, authorId: string): Promise<void> {
  const now = deps.clock.now();
  // Row ids in our id format (UUIDv7: 48-bit ms time, version 7, variant bits, random rest), made by SQLite itself.
  const ts = now.toString(16).padStart(12, "0");
  const id = sql`${`${ts.slice(0, 8)}-${ts.slice(8)}-7`} || substr(lower(hex(randomblob(2))), 2, 3)
    || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2, 3) || '-' || lower(hex(randomblob(6)))`;
  await tx.run(sql`
    INSERT INTO ${notifications} (id, user_id, actor_id, kind, post_id, emoji, dedupe_key, created_at)
    SELECT ${id}, f.follower_id, ${authorId}, 'new_post', ${postId}, NULL, ${`new_post:${postId}:`} || f.follower_id, ${now}
    FROM ${follows} AS f
    WHERE f.followee_id = ${authorId} AND f.follower_id <> ${authorId}
    ON CONFLICT (dedupe_key) DO NOTHING`);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading and marking

export type NotificationCounts = { unseen: number; unread: number };

export type NotificationT = {
  id: string;
  kind: NotificationKind;
  actor_id: string;
  actor: PublicUserT;
  /** The post reacted to, published or commented on; "" for a follow. */
  post_id: string;
  /** The comment of a comment, reply or mention; "" for other kinds. */
  comment_id: string;
  /** The reaction's emoji; "" for other kinds. */
  emoji: string;
  message: string;
  created_at: string;
  is_seen: boolean;
  is_read: boolean;
};

/** Rows deleted per statement when pruning, so the write lock is never held for long. */
export const PRUNE_BATCH = 5000;

/**
 * Deletes the notifications older than `retentionDays` (0 keeps everything), oldest first, in batches; returns how
 * many went. Run hourly by each instance (index.ts): deleting is idempotent, so instances need not coordinate.
 * A new post notifies every follower, so without this the table grows by a row per follower per loop forever.
 */
export async function pruneNotifications(deps: Pick<Deps, "database" | "clock">, retentionDays: number): Promise<number> {
  if (retentionDays <= 0) return 0;
  const { db } = deps.database;
  const before = deps.clock.now() - retentionDays * 86_400_000;
  let total = 0;
  for (;;) {
    const oldest = db
      .select({ id: notifications.id })
      .from(notifications)
      .where(lt(notifications.createdAt, before))
      .orderBy(notifications.createdAt)
      .limit(PRUNE_BATCH);
    const gone = await db.delete(notifications).where(inArray(notifications.id, oldest)).returning({ id: notifications.id });
    total += gone.length;
    if (gone.length < PRUNE_BATCH) return total;
  }
}

/**
 * Unseen and unread counts of a user (the plugin polls them every 30 s). Reading implies seeing (markNotifications
 * sets seen_at with read_at), so unseen ⊆ unread and both counts are prefixes of one index on
 * (user_id, read_at, seen_at) when it exists; without it they walk the user's rows of notifications_user_idx.
 */
export async function notificationCounts(deps: Deps, userId: string): Promise<NotificationCounts> {
  const [row] = await deps.database.db.all<{ unseen: number; unread: number }>(sql`
    SELECT
      (SELECT count(*) FROM ${notifications} WHERE user_id = ${userId} AND read_at IS NULL AND seen_at IS NULL) AS unseen,
      (SELECT count(*) FROM ${notifications} WHERE user_id = ${userId} AND read_at IS NULL) AS unread`);
  return { unseen: Number(row?.unseen ?? 0), unread: Number(row?.unread ?? 0) };
}

function messageOf(kind: string, actor: string, emoji: string | null, title: string | null): string {
  if (kind === "follow") return `${actor} started following you`;
  if (kind === "comment") return `${actor} commented on ${title ? `“${title}”` : "your loop"}`;
  if (kind === "reply") return `${actor} replied to your comment${title ? ` on “${title}”` : ""}`;
  if (kind === "mention") return `${actor} mentioned you${title ? ` on “${title}”` : ""}`;
  if (kind === "repost") return `${actor} reposted ${title ? `“${title}”` : "your loop"}`;
  if (kind === "reaction") return `${actor} reacted ${emoji ?? ""} to ${title ? `“${title}”` : "your loop"}`;
  return `${actor} posted ${title ? `“${title}”` : "a new loop"}`;
}

/**
 * A user's notifications, newest first (keyset on created_at, id, or offset), with each actor as a public user.
 * A page costs a fixed number of queries whatever its size: the page (joined with actors and posts), then the
 * actors' follow states and presence (viewerExtras).
 */
export async function listNotifications(deps: Deps, userId: string, page: Page, only?: { dedupeKey: string }) {
  const conds = [eq(notifications.userId, userId)];
  if (only) conds.push(eq(notifications.dedupeKey, only.dedupeKey));
  if (page.before) {
    const b = page.before;
    conds.push(or(lt(notifications.createdAt, b.createdAt), and(eq(notifications.createdAt, b.createdAt), lt(notifications.id, b.id)))!);
  }
  const rows = await deps.database.db
    .select({ n: notifications, actor: users, title: posts.title, text: comments.content, parentId: comments.parentId })
    .from(notifications)
    .innerJoin(users, eq(users.id, notifications.actorId))
    .leftJoin(posts, eq(posts.id, notifications.postId))
    .leftJoin(comments, eq(comments.id, notifications.commentId))
    .where(and(...conds))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(page.limit + 1)
    .offset(page.offset);
  const extras = await viewerExtras(deps, userId, [...new Set(rows.map((r) => r.actor.id))]);
  return rows.map((r) => ({
    row: r.n,
    title: r.title ?? "",
    text: r.text ?? "",
    parentId: r.parentId ?? "",
    item: {
      id: r.n.id,
      kind: r.n.kind as NotificationKind,
      actor_id: r.actor.id,
      actor: toPublicUser(deps, r.actor, extras.get(r.actor.id)),
      post_id: r.n.postId ?? "",
      comment_id: r.n.commentId ?? "",
      emoji: r.n.emoji ?? "",
      message: messageOf(r.n.kind, r.actor.displayName || r.actor.username, r.n.emoji, r.title),
      created_at: new Date(r.n.createdAt).toISOString(),
      is_seen: r.n.seenAt !== null,
      is_read: r.n.readAt !== null,
    } satisfies NotificationT,
  }));
}

/** One notification as the list shows it, found by its dedupe key (for the realtime `notification` frame). */
export async function notificationByKey(deps: Deps, userId: string, dedupeKey: string): Promise<NotificationT | null> {
  const [first] = await listNotifications(deps, userId, { limit: 1, offset: 0 }, { dedupeKey });
  return first?.item ?? null;
}

/** After a commit that may have created or changed a notification: push it to the recipient's connections. */
export async function pushNotification(deps: Deps, userId: string, dedupeKey: string) {
  const item = await notificationByKey(deps, userId, dedupeKey);
  if (item && !item.is_read) await publishNotification(deps, userId, item);
}

/**
 * Marks notifications seen (the badge was looked at) or read (opened; read implies seen): the given ids of the
 * user's own notifications, or all of them when `ids` is empty. Ids of other users' notifications are ignored.
 * Returns how many changed.
 */
export async function markNotifications(deps: Deps, userId: string, what: "seen" | "read", ids: string[] = []): Promise<number> {
  const now = deps.clock.now();
  const mine = [eq(notifications.userId, userId)];
  if (ids.length) mine.push(inArray(notifications.id, ids));
  return deps.database.tx(async (tx) => {
    const changed =
      what === "seen"
        ? await tx
            .update(notifications)
            .set({ seenAt: now })
            .where(and(...mine, isNull(notifications.seenAt)))
            .returning({ id: notifications.id })
        : await tx
            .update(notifications)
            .set({ readAt: now, seenAt: sql`coalesce(${notifications.seenAt}, ${now})` })
            .where(and(...mine, isNull(notifications.readAt)))
            .returning({ id: notifications.id });
    return changed.length;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The plugin's grouped shape

/**
 * A notification as the plugin's model reads it (src/models/Notification.h, from_json; NotificationClient.cpp reads
 * `groups`): repeats of one verb on one target in one group, its actors newest first. Every string is a string
 * (never null) and actor_ids is never empty (the model drops a group without actors).
 */
export type NotificationGroupT = {
  id: string;
  group_id: string;
  verb: "follow" | "like" | "post" | "comment" | "mention" | "repost";
  actor_ids: string[];
  actor_usernames: string[];
  actor_avatar_urls: string[];
  actor_count: number;
  target_type: "user" | "post" | "comment";
  target_id: string;
  /** The loop the group is about (for a reply or mention too); "" for follows. */
  post_id: string;
  target_preview: string;
  content_text: string;
  is_read: boolean;
  is_seen: boolean;
  created_at: string;
  updated_at: string;
};

const VERB = { follow: "follow", reaction: "like", new_post: "post", comment: "comment", reply: "comment", mention: "mention", repost: "repost" } as const;

/**
 * Groups a page of notifications (newest first) for the plugin: follows of the user, reactions to one post, and a
 * new post (one per post), comments on one loop, replies to one comment; a mention stands alone. A group takes the
 * id and time of its newest notification and is read (seen) only when all of its notifications are. Groups are made
 * within the page, so one group may continue on the next page. content_text is the reaction's emoji or the newest
 * comment's text.
 */
export function groupNotifications(userId: string, page: { item: NotificationT; title: string; text?: string; parentId?: string }[]): NotificationGroupT[] {
  const groups = new Map<string, NotificationGroupT>();
  for (const { item, title, text = "", parentId = "" } of page) {
    const verb = VERB[item.kind];
    const targetType = item.kind === "follow" ? "user" : item.kind === "reply" || item.kind === "mention" ? "comment" : "post";
    const targetId =
      item.kind === "follow" ? userId : item.kind === "reply" ? parentId || item.comment_id : item.kind === "mention" ? item.comment_id : item.post_id;
    const groupId = `${verb}:${targetId}`;
    let g = groups.get(groupId);
    if (!g) {
      g = {
        id: item.id,
        group_id: groupId,
        verb,
        actor_ids: [],
        actor_usernames: [],
        actor_avatar_urls: [],
        actor_count: 0,
        target_type: targetType,
        target_id: targetId,
        post_id: item.post_id,
        target_preview: item.kind === "follow" ? "" : title,
        content_text: item.kind === "reaction" ? item.emoji : text,
        is_read: true,
        is_seen: true,
        created_at: item.created_at,
        updated_at: item.created_at,
      };
      groups.set(groupId, g);
    }
    if (!g.actor_ids.includes(item.actor.id)) {
      g.actor_ids.push(item.actor.id);
      g.actor_usernames.push(item.actor.username);
      g.actor_avatar_urls.push(item.actor.avatar_url);
      g.actor_count++;
    }
    g.is_read &&= item.is_read;
    g.is_seen &&= item.is_seen;
  }
  return [...groups.values()];
}

// Notifications: someone followed you, reacted to your loop, or a producer you follow posted a loop.
//
// One row per event *kind and subject*, named by its dedupe_key (unique in the schema):
//   follow:<actor>:<followee>          reaction:<actor>:<post>          new_post:<post>:<follower>
// Repeating an event (follow, unfollow, follow; react, unreact, react; a retried job) never adds a row. The
// repeat updates the emoji of a reaction notification (so it shows the current one) and leaves everything else
// alone: created_at, seen_at and read_at stay as they were, so toggling a reaction cannot push a notification back
// to the top or make it unread again (no spam, no badge bumps). Undoing an event (unreact, unfollow) keeps the row:
// it records that the event happened. A user is never notified of their own actions.
import { sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { notifications } from "../db/schema.ts";
import type { Clock } from "../deps.ts";

export type NotificationKind = "follow" | "reaction" | "new_post";

export type NewNotification =
  | { kind: "follow"; userId: string; actorId: string }
  | { kind: "reaction"; userId: string; actorId: string; postId: string; emoji: string }
  | { kind: "new_post"; userId: string; actorId: string; postId: string };

/** The key that makes repeats of one event land on one row. */
export function notificationDedupeKey(n: NewNotification): string {
  switch (n.kind) {
    case "follow":
      return `follow:${n.actorId}:${n.userId}`;
    case "reaction":
      return `reaction:${n.actorId}:${n.postId}`;
    case "new_post":
      return `new_post:${n.postId}:${n.userId}`;
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

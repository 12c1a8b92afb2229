// Follows: who follows whom, the exact follower/following counters on users, and the follow notification.
//
// A follow is one row of `follows` (primary key (follower_id, followee_id)). Following and unfollowing are
// idempotent under the plugin's retries: INSERT ... ON CONFLICT DO NOTHING / DELETE, and the counters move only
// when a row really was inserted or deleted, in the same transaction, so they never drift.
//
// Notification policy (createNotification in notifications.ts, dedupe_key `follow:<follower>:<followee>`): the first
// follow notifies the followee; follow → unfollow → follow again finds the same row and leaves it alone (time, read
// and seen state unchanged), so toggling a follow can never spam the followee or bump their badge again.
//
// After the commit of a change (never for a repeat), the followee's connections get `follow` / `unfollow` and, for a
// follow, the notification (docs/architecture.md, "Data rules").
import { and, desc, eq, lt, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client.ts";
import { blocks, follows, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import type { Page } from "../http/pagination.ts";
import { getUserById, type UserRow } from "../users/service.ts";
import { publishFollow } from "../realtime/events.ts";
import { createNotification, notificationDedupeKey, pushNotification } from "./notifications.ts";
import { mirrorFollow } from "../integrations/stream.ts";

export { followState, followStates, type FollowState } from "./follow-states.ts";

export type FollowOutcome = {
  /** A row was really inserted (follow) or deleted (unfollow); false for a repeat. */
  changed: boolean;
  is_following: boolean;
  /** The followee's follower count after the change. */
  follower_count: number;
};

function refuseSelf(followerId: string, followeeId: string) {
  if (followerId === followeeId) throw errors.badRequest("cannot_follow_self", "You cannot follow or unfollow yourself");
}

const userNotFound = () => errors.notFound("user_not_found", "No such user");

/**
 * No follow while a block stands (README "Blocking and muting"): the blocker is told why (403 blocked), the blocked
 * user gets the 404 of an unknown user, as their profile answers, so the block is not announced.
 */
async function refuseBlocked(tx: Db, followerId: string, followeeId: string) {
  const [row] = await tx
    .select({ blockerId: blocks.blockerId })
    .from(blocks)
    .where(or(and(eq(blocks.blockerId, followerId), eq(blocks.blockedId, followeeId)), and(eq(blocks.blockerId, followeeId), eq(blocks.blockedId, followerId))))
    .limit(1);
  if (!row) return;
  if (row.blockerId === followerId) throw errors.forbidden("blocked", "You blocked this user: unblock them before following");
  throw userNotFound();
}

/** Follows `followeeId` (idempotent). 400 for yourself, 404 for an unknown user. */
export async function followUser(deps: Deps, followerId: string, followeeId: string): Promise<FollowOutcome> {
  refuseSelf(followerId, followeeId);
  const now = deps.clock.now();
  return deps.database.tx(
    async (tx) => {
      const [target] = await tx.select({ followerCount: users.followerCount }).from(users).where(eq(users.id, followeeId)).limit(1);
      if (!target) throw userNotFound();
      await refuseBlocked(tx, followerId, followeeId);
      const inserted = await tx.insert(follows).values({ followerId, followeeId, createdAt: now }).onConflictDoNothing().returning({ id: follows.followeeId });
      // A repeat (the plugin retrying): nothing changes, the counters stay exact.
      if (inserted.length === 0) return { changed: false, is_following: true, follower_count: target.followerCount };
      const [after] = await tx
        .update(users)
        .set({ followerCount: sql`${users.followerCount} + 1` })
        .where(eq(users.id, followeeId))
        .returning({ followerCount: users.followerCount });
      await tx
        .update(users)
        .set({ followingCount: sql`${users.followingCount} + 1` })
        .where(eq(users.id, followerId));
      await createNotification(deps, tx, { kind: "follow", userId: followeeId, actorId: followerId });
      await mirrorFollow(deps, tx, followerId, followeeId);
      return { changed: true, is_following: true, follower_count: after!.followerCount };
    },
    {
      afterCommit: (r) => {
        if (!r.changed) return;
        void publishFollow(deps, { followerId, followeeId, followerCount: r.follower_count });
        void pushNotification(deps, followeeId, notificationDedupeKey({ kind: "follow", userId: followeeId, actorId: followerId })).catch(() => undefined);
      },
    },
  );
}

/** Unfollows `followeeId` (idempotent: unfollowing someone you do not follow changes nothing). */
export async function unfollowUser(deps: Deps, followerId: string, followeeId: string): Promise<FollowOutcome> {
  refuseSelf(followerId, followeeId);
  return deps.database.tx(
    async (tx) => {
      const [target] = await tx.select({ followerCount: users.followerCount }).from(users).where(eq(users.id, followeeId)).limit(1);
      if (!target) throw userNotFound();
      const deleted = await tx
        .delete(follows)
        .where(and(eq(follows.followerId, followerId), eq(follows.followeeId, followeeId)))
        .returning({ id: follows.followeeId });
      if (deleted.length === 0) return { changed: false, is_following: false, follower_count: target.followerCount };
      const [after] = await tx
        .update(users)
        .set({ followerCount: sql`${users.followerCount} - 1` })
        .where(eq(users.id, followeeId))
        .returning({ followerCount: users.followerCount });
      await tx
        .update(users)
        .set({ followingCount: sql`${users.followingCount} - 1` })
        .where(eq(users.id, followerId));
      await mirrorFollow(deps, tx, followerId, followeeId);
      // The follow notification stays: it records that the follow happened (see notifications.ts).
      return { changed: true, is_following: false, follower_count: after!.followerCount };
    },
    {
      afterCommit: (r) => void (r.changed && publishFollow(deps, { followerId, followeeId, followerCount: r.follower_count, following: false })),
    },
  );
}

export type FollowListRow = { user: UserRow; followedAt: number };
export type FollowList = { rows: FollowListRow[]; total: number };

/** Keyset condition "(created_at, other_id) < cursor" for newest-first lists. */
function before(createdAt: SQLiteColumn, id: SQLiteColumn, page: Page): SQL | undefined {
  const c = page.before;
  return c ? or(lt(createdAt, c.createdAt), and(eq(createdAt, c.createdAt), lt(id, c.id))) : undefined;
}

async function listFollows(deps: Deps, userId: string, page: Page, direction: "followers" | "following"): Promise<FollowList> {
  const owner = await getUserById(deps, userId);
  if (!owner) throw userNotFound();
  // followers of X: rows where X is the followee, listing the follower; following: the other way round.
  const mine = direction === "followers" ? follows.followeeId : follows.followerId;
  const other = direction === "followers" ? follows.followerId : follows.followeeId;
  const rows = await deps.database.db
    .select({ user: users, followedAt: follows.createdAt })
    .from(follows)
    .innerJoin(users, eq(users.id, other))
    .where(and(eq(mine, userId), before(follows.createdAt, other, page)))
    .orderBy(desc(follows.createdAt), desc(other))
    .limit(page.limit + 1)
    .offset(page.offset);
  // The counters are exact (kept in the same transactions as the rows), so the total costs no COUNT(*).
  return { rows, total: direction === "followers" ? owner.followerCount : owner.followingCount };
}

/** Who follows `userId`, most recent first; one row over the page size tells has_more (see pageOf). */
export const listFollowers = (deps: Deps, userId: string, page: Page) => listFollows(deps, userId, page, "followers");

/** Whom `userId` follows, most recently followed first. */
export const listFollowing = (deps: Deps, userId: string, page: Page) => listFollows(deps, userId, page, "following");

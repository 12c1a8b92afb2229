// Blocking and muting (README "Blocking and muting"; docs/plugin-contract.md "Blocking and muting").
//
// A block is one row of `blocks` (primary key (blocker_id, blocked_id)); a mute one row of `mutes`. All four calls
// are idempotent under the plugin's retries (INSERT ... ON CONFLICT DO NOTHING / DELETE), and a call that changed a
// row tells every instance's WebSocket hub after the commit (publishHidesChanged), so sockets stop (or resume)
// delivering events between the two at once, on every instance.
//
// Blocking, in the same transaction as the row: both follows (blocker → blocked and blocked → blocker) are deleted
// with the follower/following counters moved exactly as unfollowing does (and the Stream.io mirror told, as an
// unfollow tells it), and the notifications between the two (either way) are deleted. No `unfollow` frame is sent:
// it would name the other user to each. Unblocking restores neither the follows nor the notifications.
//
// Reading: block-states.ts answers "is this hidden from that viewer" for the features (posts, profiles, feeds via
// posts/enrich.ts, the hub); the lists here are for the user's own settings.
import { and, desc, eq, lt, or, sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Db } from "../db/client.ts";
import { blocks, follows, mutes, notifications, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import type { Page } from "../http/pagination.ts";
import { mirrorFollow } from "../integrations/stream.ts";
import { publishHidesChanged } from "../realtime/events.ts";
import type { UserRow } from "../users/service.ts";

export { blockedBetween, hiddenFrom, relationTo, type Hidden, type Relation } from "./block-states.ts";

export type BlockOutcome = { changed: boolean; is_blocking: boolean };
export type MuteOutcome = { changed: boolean; is_muting: boolean };

function refuseSelf(userId: string, targetId: string, what: "block" | "mute") {
  if (userId === targetId) throw errors.badRequest(`cannot_${what}_self`, `You cannot ${what} or un${what} yourself`);
}

/** The target must exist: 404 user_not_found otherwise (the same answer as everywhere for an unknown id). */
async function requireUser(db: Db, id: string) {
  const [u] = await db.select({ id: users.id }).from(users).where(eq(users.id, id)).limit(1);
  if (!u) throw errors.notFound("user_not_found", "No such user");
}

/** Deletes the follow a → b if there is one, with both counters and the mirror, as unfollowUser does. */
async function dropFollow(deps: Deps, tx: Db, followerId: string, followeeId: string): Promise<boolean> {
  const gone = await tx
    .delete(follows)
    .where(and(eq(follows.followerId, followerId), eq(follows.followeeId, followeeId)))
    .returning({ id: follows.followeeId });
  if (gone.length === 0) return false;
  await tx
    .update(users)
    .set({ followerCount: sql`${users.followerCount} - 1` })
    .where(eq(users.id, followeeId));
  await tx
    .update(users)
    .set({ followingCount: sql`${users.followingCount} - 1` })
    .where(eq(users.id, followerId));
  await mirrorFollow(deps, tx, followerId, followeeId);
  return true;
}

const announce = (deps: Deps, a: string, b: string) => (r: { changed: boolean }) => {
  if (r.changed) void publishHidesChanged(deps, [a, b]);
};

/** Blocks `targetId` (idempotent). 400 for yourself, 404 for an unknown user. */
export async function blockUser(deps: Deps, userId: string, targetId: string): Promise<BlockOutcome> {
  refuseSelf(userId, targetId, "block");
  return deps.database.tx(
    async (tx) => {
      await requireUser(tx, targetId);
      const inserted = await tx
        .insert(blocks)
        .values({ blockerId: userId, blockedId: targetId, createdAt: deps.clock.now() })
        .onConflictDoNothing()
        .returning({ id: blocks.blockedId });
      if (inserted.length === 0) return { changed: false, is_blocking: true };
      await dropFollow(deps, tx, userId, targetId);
      await dropFollow(deps, tx, targetId, userId);
      await tx
        .delete(notifications)
        .where(
          or(
            and(eq(notifications.userId, userId), eq(notifications.actorId, targetId)),
            and(eq(notifications.userId, targetId), eq(notifications.actorId, userId)),
          ),
        );
      return { changed: true, is_blocking: true };
    },
    { afterCommit: announce(deps, userId, targetId) },
  );
}

/** Unblocks `targetId` (idempotent: unblocking someone you do not block changes nothing). */
export async function unblockUser(deps: Deps, userId: string, targetId: string): Promise<BlockOutcome> {
  refuseSelf(userId, targetId, "block");
  return deps.database.tx(
    async (tx) => {
      await requireUser(tx, targetId);
      const gone = await tx
        .delete(blocks)
        .where(and(eq(blocks.blockerId, userId), eq(blocks.blockedId, targetId)))
        .returning({ id: blocks.blockedId });
      return { changed: gone.length > 0, is_blocking: false };
    },
    { afterCommit: announce(deps, userId, targetId) },
  );
}

/** Mutes `targetId` (idempotent). The follow stays, and the muted user is told nothing. */
export async function muteUser(deps: Deps, userId: string, targetId: string): Promise<MuteOutcome> {
  refuseSelf(userId, targetId, "mute");
  return deps.database.tx(
    async (tx) => {
      await requireUser(tx, targetId);
      const inserted = await tx
        .insert(mutes)
        .values({ muterId: userId, mutedId: targetId, createdAt: deps.clock.now() })
        .onConflictDoNothing()
        .returning({ id: mutes.mutedId });
      return { changed: inserted.length > 0, is_muting: true };
    },
    { afterCommit: announce(deps, userId, targetId) },
  );
}

/** Unmutes `targetId` (idempotent). */
export async function unmuteUser(deps: Deps, userId: string, targetId: string): Promise<MuteOutcome> {
  refuseSelf(userId, targetId, "mute");
  return deps.database.tx(
    async (tx) => {
      await requireUser(tx, targetId);
      const gone = await tx
        .delete(mutes)
        .where(and(eq(mutes.muterId, userId), eq(mutes.mutedId, targetId)))
        .returning({ id: mutes.mutedId });
      return { changed: gone.length > 0, is_muting: false };
    },
    { afterCommit: announce(deps, userId, targetId) },
  );
}

/** Whether `userId` mutes `targetId` (the plugin's GET /users/{id}/muted; 404 for an unknown user). */
export async function isMuting(deps: Deps, userId: string, targetId: string): Promise<boolean> {
  await requireUser(deps.database.db, targetId);
  const [row] = await deps.database.db
    .select({ id: mutes.mutedId })
    .from(mutes)
    .where(and(eq(mutes.muterId, userId), eq(mutes.mutedId, targetId)))
    .limit(1);
  return Boolean(row);
}

/**
 * Mutes, or unmutes when already muting: the plugin's mute and unmute both arrive as `GET /users/{id}/mute` (a POST
 * without a body and a DELETE are sent as GET: docs/plugin-contract.md "Transport rules").
 */
export async function toggleMute(deps: Deps, userId: string, targetId: string): Promise<MuteOutcome> {
  return (await isMuting(deps, userId, targetId)) ? unmuteUser(deps, userId, targetId) : muteUser(deps, userId, targetId);
}

export type HideListRow = { user: UserRow; since: number };

/** Keyset condition "(created_at, other_id) < cursor" for newest-first lists. */
function before(createdAt: SQLiteColumn, id: SQLiteColumn, page: Page): SQL | undefined {
  const c = page.before;
  return c ? or(lt(createdAt, c.createdAt), and(eq(createdAt, c.createdAt), lt(id, c.id))) : undefined;
}

/** The users `userId` blocks, most recently blocked first; one row over the page size tells has_more (pageOf). */
export async function listBlocked(deps: Deps, userId: string, page: Page): Promise<HideListRow[]> {
  return deps.database.db
    .select({ user: users, since: blocks.createdAt })
    .from(blocks)
    .innerJoin(users, eq(users.id, blocks.blockedId))
    .where(and(eq(blocks.blockerId, userId), before(blocks.createdAt, blocks.blockedId, page)))
    .orderBy(desc(blocks.createdAt), desc(blocks.blockedId))
    .limit(page.limit + 1)
    .offset(page.offset);
}

/** The users `userId` mutes, most recently muted first. */
export async function listMuted(deps: Deps, userId: string, page: Page): Promise<HideListRow[]> {
  return deps.database.db
    .select({ user: users, since: mutes.createdAt })
    .from(mutes)
    .innerJoin(users, eq(users.id, mutes.mutedId))
    .where(and(eq(mutes.muterId, userId), before(mutes.createdAt, mutes.mutedId, page)))
    .orderBy(desc(mutes.createdAt), desc(mutes.mutedId))
    .limit(page.limit + 1)
    .offset(page.offset);
}

// The viewer's follow states, read for any page of users or posts (users/service.ts viewerExtras, feeds, presence):
// a query module of its own, so users/service.ts does not import follows.ts, which imports it back.
import { and, eq, inArray, or } from "drizzle-orm";
import { follows } from "../db/schema.ts";
import type { Deps } from "../deps.ts";

/** The viewer-dependent fields of a user object. */
export type FollowState = { is_following: boolean; follows_you: boolean };

const NOT_FOLLOWING: FollowState = { is_following: false, follows_you: false };

/**
 * The viewer's follow state towards each of `userIds` (is_following: the viewer follows them; follows_you: they
 * follow the viewer), in ONE query whatever the number of ids, so a page of users or posts costs no N+1. Without a
 * viewer every state is false. For other features (feeds, presence) as much as for the user lists of follows.ts.
 */
export async function followStates(deps: Deps, viewerId: string | null, userIds: readonly string[]): Promise<Map<string, FollowState>> {
  const ids = [...new Set(userIds)].filter((id) => id !== viewerId);
  const states = new Map<string, FollowState>();
  for (const id of userIds) states.set(id, { ...NOT_FOLLOWING });
  if (!viewerId || ids.length === 0) return states;
  const rows = await deps.database.db
    .select({ followerId: follows.followerId, followeeId: follows.followeeId })
    .from(follows)
    .where(
      or(and(eq(follows.followerId, viewerId), inArray(follows.followeeId, ids)), and(eq(follows.followeeId, viewerId), inArray(follows.followerId, ids))),
    );
  for (const r of rows) {
    if (r.followerId === viewerId) states.get(r.followeeId)!.is_following = true;
    else states.get(r.followerId)!.follows_you = true;
  }
  return states;
}

/** The viewer's follow state towards one user (the same single query). */
export async function followState(deps: Deps, viewerId: string | null, userId: string): Promise<FollowState> {
  return (await followStates(deps, viewerId, [userId])).get(userId)!;
}

/**
 * The one rule for who sees a user's presence (online, in the studio, last active): the user themself and their
 * followers, as the WebSocket delivers it (docs/security.md, Data exposure). Used by the presence route, user objects
 * and feed posts; `viewerFollows` is whether the viewer follows `userId`.
 */
export const seesPresence = (viewerId: string | null, userId: string, viewerFollows: boolean): boolean =>
  viewerId !== null && (viewerId === userId || viewerFollows);

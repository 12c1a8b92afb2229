// The SQL of the realtime feature: audiences (followers), presence visibility, session liveness, last_active.
import { and, eq, gt, inArray, isNull } from "drizzle-orm";
import { follows, sessions, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";

/** Ids of the users who follow `userId` (one indexed read: follows_followee_idx). */
export async function followerIds(deps: Pick<Deps, "database">, userId: string): Promise<string[]> {
  const rows = await deps.database.db.select({ id: follows.followerId }).from(follows).where(eq(follows.followeeId, userId));
  return rows.map((r) => r.id);
}

export type FolloweeRow = { id: string; username: string; displayName: string; avatarKey: string | null; showActivityStatus: boolean; lastActiveAt: number | null };

/** The users `userId` follows, with what a presence list shows. */
export async function followees(deps: Pick<Deps, "database">, userId: string): Promise<FolloweeRow[]> {
  return deps.database.db
    .select({ id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey, showActivityStatus: users.showActivityStatus, lastActiveAt: users.lastActiveAt })
    .from(follows)
    .innerJoin(users, eq(users.id, follows.followeeId))
    .where(eq(follows.followerId, userId));
}

export type Visibility = { shown: boolean; lastActiveAt: number | null };

/** show_activity_status and last_active_at of each user (absent from the map: no such user). */
export async function visibility(deps: Pick<Deps, "database">, userIds: readonly string[]): Promise<Map<string, Visibility>> {
  const out = new Map<string, Visibility>();
  const ids = [...new Set(userIds)];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await deps.database.db
      .select({ id: users.id, shown: users.showActivityStatus, lastActiveAt: users.lastActiveAt })
      .from(users)
      .where(inArray(users.id, ids.slice(i, i + 500)));
    for (const r of rows) out.set(r.id, { shown: r.shown, lastActiveAt: r.lastActiveAt });
  }
  return out;
}

/** The ones of `sessionIds` that are still live (not revoked, not expired) at `now`. */
export async function liveSessions(deps: Pick<Deps, "database">, sessionIds: readonly string[], now: number): Promise<Set<string>> {
  const live = new Set<string>();
  const ids = [...new Set(sessionIds)];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await deps.database.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(inArray(sessions.id, ids.slice(i, i + 500)), isNull(sessions.revokedAt), gt(sessions.expiresAt, now), gt(sessions.absoluteExpiresAt, now)));
    for (const r of rows) live.add(r.id);
  }
  return live;
}

export async function writeLastActive(deps: Pick<Deps, "database">, userId: string, at: number) {
  await deps.database.db.update(users).set({ lastActiveAt: at }).where(eq(users.id, userId));
}

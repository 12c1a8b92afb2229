// The SQL of the realtime feature: audiences (followers), presence visibility, session liveness, last_active.
import { and, desc, eq, gt, inArray, isNull, ne, sql } from "drizzle-orm";
import { follows, posts, sessions, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";

/** Ids of the users who follow `userId` (one indexed read: follows_followee_idx). */
export async function followerIds(deps: Pick<Deps, "database">, userId: string): Promise<string[]> {
  const rows = await deps.database.db.select({ id: follows.followerId }).from(follows).where(eq(follows.followeeId, userId));
  return rows.map((r) => r.id);
}

export type FolloweeRow = {
  id: string;
  username: string;
  displayName: string;
  avatarKey: string | null;
  showActivityStatus: boolean;
  lastActiveAt: number | null;
};

/** The users `userId` follows, with what a presence list shows. */
export async function followees(deps: Pick<Deps, "database">, userId: string): Promise<FolloweeRow[]> {
  return deps.database.db
    .select({
      id: users.id,
      username: users.username,
      displayName: users.displayName,
      avatarKey: users.avatarKey,
      showActivityStatus: users.showActivityStatus,
      lastActiveAt: users.lastActiveAt,
    })
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

/**
 * The DAW of a user's newest upload that named one (the plugin detects it from its host: the `daw` field of
 * plugin/src/network/api/AudioClient.cpp), "" when none did. One indexed read (posts_user_created_idx).
 */
export async function latestUploadDaw(deps: Pick<Deps, "database">, userId: string): Promise<string> {
  const [row] = await deps.database.db
    .select({ daw: posts.daw })
    .from(posts)
    .where(and(eq(posts.userId, userId), ne(posts.daw, ""), sql`lower(${posts.daw}) <> 'unknown'`))
    .orderBy(desc(posts.createdAt), desc(posts.id))
    .limit(1);
  return row?.daw ?? "";
}

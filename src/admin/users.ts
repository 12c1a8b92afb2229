// Staff actions on accounts (docs/security.md "Roles and staff actions"), one service for the command line
// (src/cli.ts `sidechain user ...`), the admin API and the admin pages: roles, suspension, revoking sessions and
// deleting an account. Each action checks who may do it, changes everything in one transaction with its audit
// entry, and tells the rest of the system (sessions closed, the Stream.io mirror) as the features do.
import { and, asc, count, eq, gt, isNotNull, isNull, like, ne, or, sql } from "drizzle-orm";
import type { Auth } from "../auth/guard.ts";
import { RECENT_AUTH_MS } from "../auth/service.ts";
import { revokeUserSessions } from "../auth/sessions.ts";
import type { Db } from "../db/client.ts";
import { follows, plays, posts, reactions, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { mirrorFollow, mirrorPostDeleted, mirrorPostReady, mirrorReaction, mirrorUserUpsert } from "../integrations/stream.ts";
import { errorFields } from "../log.ts";
import { removePostMedia } from "../posts/service.ts";
import { forgetStoryViewsOf, removeAllStoryMedia } from "../stories/service.ts";
import { keyPrefix } from "../storage/index.ts";
import { SETTING_RANGES } from "../system/settings.ts";
import { removeSavesOf } from "../social/saves.ts";
import { removeRepostsOf } from "../social/reposts.ts";
import { type Role, roleOf, type UserRow } from "../users/service.ts";
import { type Actor, audit } from "./audit.ts";
import { forgetUserComments } from "../social/comments.ts";

/** An account by id, @username, username or email (what an owner types); 404 user_not_found otherwise. */
export async function findAccount(deps: Pick<Deps, "database">, handle: string): Promise<UserRow> {
  const h = handle.trim().replace(/^@/, "").toLowerCase();
  if (!h) throw errors.notFound("user_not_found", "No such account");
  const [row] = await deps.database.db
    .select()
    .from(users)
    .where(or(eq(users.id, handle.trim()), eq(users.username, h), eq(users.email, h)))
    .limit(1);
  if (!row) throw errors.notFound("user_not_found", `No account "${handle}"`);
  return row;
}

export type AccountFilter = { role?: Role; suspended?: boolean; query?: string; limit: number; after?: string };

/** Accounts in creation order (cursor: the last id), filtered by role, suspension or a name/email fragment. */
export async function listAccounts(deps: Pick<Deps, "database">, f: AccountFilter): Promise<UserRow[]> {
  const q = f.query
    ?.trim()
    .toLowerCase()
    .replace(/[%_\\]/g, (c) => `\\${c}`);
  return deps.database.db
    .select()
    .from(users)
    .where(
      and(
        f.role ? eq(users.role, f.role) : undefined,
        f.suspended === undefined ? undefined : f.suspended ? isNotNull(users.suspendedAt) : isNull(users.suspendedAt),
        q ? or(like(users.username, sql`${`%${q}%`} ESCAPE '\\'`), like(users.email, sql`${`%${q}%`} ESCAPE '\\'`)) : undefined,
        f.after ? gt(users.id, f.after) : undefined,
      ),
    )
    .orderBy(asc(users.id))
    .limit(f.limit);
}

/** The staff member acting, reloaded (null for the command line, which may do anything). */
export async function staffOf(deps: Pick<Deps, "database">, actor: Actor): Promise<UserRow | null> {
  if (actor.id === null) return null;
  const [row] = await deps.database.db.select().from(users).where(eq(users.id, actor.id)).limit(1);
  if (!row || roleOf(row) === "member" || row.suspendedAt !== null) throw errors.forbidden("staff_only", "Only the community's staff may do this");
  return row;
}

const owners = async (tx: Db) => Number((await tx.select({ n: count() }).from(users).where(eq(users.role, "owner")))[0]?.n ?? 0);

/**
 * Gives an account a role. Only an owner (or the command line) changes roles; the last owner cannot be demoted
 * (promote another first), so a community always has someone who can.
 */
export async function setRole(deps: Deps, actor: Actor, target: UserRow, role: Role, reason = ""): Promise<UserRow> {
  const staff = await staffOf(deps, actor);
  if (staff && roleOf(staff) !== "owner") throw errors.forbidden("owner_only", "Only an owner may change roles");
  const from = roleOf(target);
  if (from === role) return target;
  if (role !== "member" && target.suspendedAt !== null) throw errors.conflict("account_suspended", "Unsuspend the account before giving it a staff role");
  return deps.database.tx(async (tx) => {
    if (from === "owner" && (await owners(tx)) <= 1) throw errors.conflict("last_owner", "This is the community's only owner: make someone else owner first");
    const [row] = await tx.update(users).set({ role, updatedAt: deps.clock.now() }).where(eq(users.id, target.id)).returning();
    await audit(deps, tx, actor, {
      action: "user.role",
      targetType: "user",
      targetId: target.id,
      targetLabel: target.username,
      reason,
      details: { from, to: role },
    });
    return row!;
  });
}

export type QuotaOverride = { upload_quota_per_day?: number | null; upload_quota_mb?: number | null };

/**
 * Gives a member their own upload quotas (README "Upload quotas"): a number, or null to take the community's again.
 * Staff have no quota, so setting one on staff is refused. Audited with what it was and what it became.
 */
export async function setQuota(deps: Deps, actor: Actor, target: UserRow, change: QuotaOverride, reason = ""): Promise<UserRow> {
  const staff = await staffOf(deps, actor);
  if (staff && roleOf(staff) === "moderator" && roleOf(target) !== "member") throw errors.forbidden("owner_only", "Only an owner may do this to a moderator");
  if (roleOf(target) !== "member") throw errors.conflict("staff_unlimited", "Staff have no upload quota");
  const fields: Record<string, string> = {};
  for (const k of ["upload_quota_per_day", "upload_quota_mb"] as const) {
    const [lo, hi] = SETTING_RANGES[k];
    const v = change[k];
    if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= lo && v <= hi)) fields[k] = `A whole number from ${lo} to ${hi}, or null`;
  }
  if (Object.keys(fields).length) throw errors.validation(fields);
  const from = { upload_quota_per_day: target.uploadQuotaPerDay, upload_quota_mb: target.uploadQuotaMb };
  const to = { ...from, ...change };
  if (to.upload_quota_per_day === from.upload_quota_per_day && to.upload_quota_mb === from.upload_quota_mb) return target;
  return deps.database.tx(async (tx) => {
    const [row] = await tx
      .update(users)
      .set({ uploadQuotaPerDay: to.upload_quota_per_day, uploadQuotaMb: to.upload_quota_mb, updatedAt: deps.clock.now() })
      .where(eq(users.id, target.id))
      .returning();
    await audit(deps, tx, actor, {
      action: "user.quota",
      targetType: "user",
      targetId: target.id,
      targetLabel: target.username,
      reason,
      details: { from, to },
    });
    return row!;
  });
}

/** Whether `staff` may act against `target` (suspend, delete, revoke): owners on anyone but owners, moderators on members. */
function mayModerate(staff: UserRow | null, target: UserRow) {
  if (staff?.id === target.id) throw errors.forbidden("not_yourself", "Staff cannot do this to their own account");
  const t = roleOf(target);
  if (t === "owner") throw errors.forbidden("owner_protected", "An owner cannot be suspended or deleted by staff: demote them first");
  if (staff && roleOf(staff) === "moderator" && t !== "member") throw errors.forbidden("owner_only", "Only an owner may do this to a moderator");
}

/**
 * Suspends an account: sign-in refused with the reason, every session revoked (open WebSockets closed), its ready
 * loops withheld (status `withheld`: out of every feed, page and search, as if not published) until unsuspended.
 * Follows and reactions stay, so unsuspending restores the account as it was.
 */
export async function suspendAccount(deps: Deps, actor: Actor, target: UserRow, reason: string): Promise<UserRow> {
  mayModerate(await staffOf(deps, actor), target);
  if (target.suspendedAt !== null) return target;
  const now = deps.clock.now();
  return deps.database.tx(async (tx) => {
    const [row] = await tx
      .update(users)
      .set({ suspendedAt: now, suspensionReason: reason, postCount: 0, role: "member", updatedAt: now })
      .where(and(eq(users.id, target.id), isNull(users.suspendedAt)))
      .returning();
    if (!row) return target;
    const withheld = await tx
      .update(posts)
      .set({ status: "withheld", updatedAt: now })
      .where(and(eq(posts.userId, target.id), eq(posts.status, "ready")))
      .returning({ id: posts.id });
    for (const p of withheld) await mirrorPostDeleted(deps, tx, p.id, target.id);
    await revokeUserSessions(deps, target.id, "suspended", { db: tx });
    await audit(deps, tx, actor, {
      action: "user.suspend",
      targetType: "user",
      targetId: target.id,
      targetLabel: target.username,
      reason,
      details: { loops_withheld: withheld.length, role_before: roleOf(target) },
    });
    return row;
  });
}

/** Lifts a suspension: sign-in works again and the withheld loops are published again. The role stays member. */
export async function unsuspendAccount(deps: Deps, actor: Actor, target: UserRow, reason = ""): Promise<UserRow> {
  await staffOf(deps, actor);
  if (target.suspendedAt === null) return target;
  const now = deps.clock.now();
  return deps.database.tx(async (tx) => {
    const back = await tx
      .update(posts)
      .set({ status: "ready", updatedAt: now })
      .where(and(eq(posts.userId, target.id), eq(posts.status, "withheld")))
      .returning({ id: posts.id });
    for (const p of back) await mirrorPostReady(deps, tx, p.id, target.id);
    const [ready] = await tx
      .select({ n: count() })
      .from(posts)
      .where(and(eq(posts.userId, target.id), eq(posts.status, "ready")));
    const [row] = await tx
      .update(users)
      .set({ suspendedAt: null, suspensionReason: "", postCount: Number(ready?.n ?? 0), updatedAt: now })
      .where(eq(users.id, target.id))
      .returning();
    await audit(deps, tx, actor, {
      action: "user.unsuspend",
      targetType: "user",
      targetId: target.id,
      targetLabel: target.username,
      reason,
      details: { loops_published: back.length },
    });
    return row!;
  });
}

/** Signs an account out everywhere (every session, refresh tokens with them, open WebSockets closed). */
export async function revokeAccountSessions(deps: Deps, actor: Actor, target: UserRow, reason = ""): Promise<void> {
  const staff = await staffOf(deps, actor);
  if (staff?.id !== target.id) mayModerate(staff, target);
  await deps.database.tx(async (tx) => {
    await revokeUserSessions(deps, target.id, "revoked by staff", { db: tx });
    await audit(deps, tx, actor, { action: "user.revoke_sessions", targetType: "user", targetId: target.id, targetLabel: target.username, reason });
  });
}

export type DeletionReport = { posts: number; follows: number; reactions: number; plays: number };

/**
 * Deletes an account and everything of it: its loops (rows and media, local or S3), reactions, plays, follows in
 * both directions, sessions, sign-in identities and notifications. Counters of everyone else stay exact (followers,
 * following, like and play counts), and the Stream.io mirror is told about every loop, follow and reaction that
 * went. `actor` is staff (an audit entry names the account) or the account itself (self-deletion, not audited:
 * docs/security.md "Roles and staff actions").
 */
export async function deleteAccount(deps: Deps, actor: Actor | "self", target: UserRow, reason = ""): Promise<DeletionReport> {
  if (actor !== "self") mayModerate(await staffOf(deps, actor), target);
  if (roleOf(target) === "owner") {
    const others = Number(
      (
        await deps.database.db
          .select({ n: count() })
          .from(users)
          .where(and(eq(users.role, "owner"), ne(users.id, target.id)))
      )[0]?.n ?? 0,
    );
    if (others === 0) throw errors.conflict("last_owner", "This is the community's only owner: make someone else owner first");
  }
  const { report, postIds } = await deps.database.tx(async (tx) => {
    const id = target.id;
    // Follows both ways: the other side's counter goes down by one, and the mirror unfollows.
    const out = await tx.delete(follows).where(eq(follows.followerId, id)).returning({ other: follows.followeeId });
    for (const f of out) {
      await tx
        .update(users)
        .set({ followerCount: sql`${users.followerCount} - 1` })
        .where(eq(users.id, f.other));
      await mirrorFollow(deps, tx, id, f.other);
    }
    const inn = await tx.delete(follows).where(eq(follows.followeeId, id)).returning({ other: follows.followerId });
    for (const f of inn) {
      await tx
        .update(users)
        .set({ followingCount: sql`${users.followingCount} - 1` })
        .where(eq(users.id, f.other));
      await mirrorFollow(deps, tx, f.other, id);
    }
    // Reactions on others' loops: like_count is the number of reaction rows, recounted.
    const reacted = await tx.delete(reactions).where(eq(reactions.userId, id)).returning({ postId: reactions.postId });
    for (const r of reacted) {
      await tx
        .update(posts)
        .set({ likeCount: sql`(SELECT count(*) FROM ${reactions} WHERE ${reactions.postId} = ${r.postId})` })
        .where(eq(posts.id, r.postId));
      await mirrorReaction(deps, tx, id, r.postId);
    }
    // Saves of others' loops: save_count is the number of save rows, recounted.
    await removeSavesOf(tx, id);
    // Reposts of others' loops: repost_count is the number of repost rows, recounted.
    await removeRepostsOf(tx, id);
    // Plays of others' loops: play_count is the number of play rows.
    const played = await tx.delete(plays).where(eq(plays.userId, id)).returning({ postId: plays.postId });
    const byPost = new Map<string, number>();
    for (const p of played) byPost.set(p.postId, (byPost.get(p.postId) ?? 0) + 1);
    for (const [postId, n] of byPost)
      await tx
        .update(posts)
        .set({ playCount: sql`max(0, ${posts.playCount} - ${n})` })
        .where(eq(posts.id, postId));
    // Comments and comment likes on others' loops: the counts they were part of are rewritten (social/comments.ts).
    await forgetUserComments(tx, id);
    // Views of others' stories: their view_count goes down (the rows go by cascade).
    await forgetStoryViewsOf(tx, id);
    // The account's own loops (their reactions, plays and notifications go with them by cascade).
    const own = await tx.select({ id: posts.id, status: posts.status }).from(posts).where(eq(posts.userId, id));
    for (const p of own) if (p.status === "ready") await mirrorPostDeleted(deps, tx, p.id, id);
    await revokeUserSessions(deps, id, "account deleted", { db: tx });
    if (actor !== "self") {
      await audit(deps, tx, actor, {
        action: "user.delete",
        targetType: "user",
        targetId: id,
        targetLabel: target.username,
        reason,
        details: { loops: own.length, follows: out.length + inn.length, reactions: reacted.length, plays: played.length },
      });
    }
    // Sessions, identities, tokens, notifications and the loops' rows go by cascade.
    await tx.delete(users).where(eq(users.id, id));
    // The mirror deletes the user and their feeds from Stream.io (the job finds the row gone).
    await mirrorUserUpsert(deps, tx, id);
    return {
      report: { posts: own.length, follows: out.length + inn.length, reactions: reacted.length, plays: played.length },
      postIds: own.map((p) => p.id),
    };
  });
  // Media after the commit: a failure here leaves orphans to log, never rows pointing at nothing.
  for (const postId of postIds) await removePostMedia(deps, postId);
  // Stories and highlights went by cascade with the account; their media go now (src/stories/service.ts).
  await removeAllStoryMedia(deps, target.id);
  // A data export waiting for its download (users/export.ts): its link died with the account's tokens; the zip goes now.
  await deps.storage.deletePrefix(keyPrefix(["exports", target.id])).catch((err) => deps.log.warn("could not delete a data export", errorFields(err)));
  if (target.avatarKey) await deps.storage.deleteMany([target.avatarKey]).catch((err) => deps.log.warn("could not delete an avatar", errorFields(err)));
  deps.log.info("account deleted", { user_id: target.id, by: actor === "self" ? "self" : actor.label, ...report });
  return report;
}

/**
 * A member deleting their own account, confirmed by its password, or, for an account without one, by a sign-in
 * with Google/Discord within the last 10 minutes (docs/security.md "Recent authentication").
 */
export async function deleteOwnAccount(deps: Deps, auth: Auth, password: string | undefined): Promise<DeletionReport> {
  if (auth.user.passwordHash) {
    if (!password || !(await deps.hasher.verify(password, auth.user.passwordHash)))
      throw errors.forbidden("wrong_password", "That is not this account's password");
  } else if (deps.clock.now() - auth.session.authenticatedAt > RECENT_AUTH_MS) {
    throw errors.forbidden("reauthentication_required", "Sign in again with Google or Discord (within the last 10 minutes) to delete your account");
  }
  return deleteAccount(deps, "self", auth.user);
}

// Reposts (README "Reposts"; docs/plugin-contract.md "Reposts"): a member shares someone else's loop with their
// followers, where it appears once as "reposted by" (social/feeds.ts timelineFeed). One repost per member per loop,
// with an optional quote (the text rules of comments: NFC, trimmed, at most QUOTE_MAX characters, no control or
// invisible characters). Only a ready loop the member can see may be reposted (the check of reactions and saves,
// social/activity.ts), never one's own: the producer's followers already have it. repost_count is rewritten from the
// rows in the transaction of every change, so it is exact. The producer is notified (kind "repost", once per
// reposter and loop); undoing the repost deletes that notification. Deleting the loop deletes its reposts and their
// notifications (foreign keys); deleting a reposter's account recounts the loops they had reposted.
import { and, desc, eq, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { notifications, posts, reposts, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import type { Page } from "../http/pagination.ts";
import { normalizeText, textProblem } from "../lib/text.ts";
import { findInteractablePost, hasMemberRow } from "./activity.ts";
import { blockedWith } from "./block-states.ts";
import { createNotification, notificationDedupeKey, pushNotification } from "./notifications.ts";

/** The longest quote, in characters. */
export const QUOTE_MAX = 280;

export type RepostState = { is_reposted: boolean; repost_count: number; quote: string };

/** The quote, normalised, or a 400 validation_error naming `quote` (nothing is written). "" is no quote. */
export function cleanQuote(raw: unknown): string {
  if (raw === undefined || raw === null) return "";
  if (typeof raw !== "string") throw errors.validation({ quote: "Must be a string" });
  const text = normalizeText(raw, true);
  const problem = [...text].length > QUOTE_MAX ? `At most ${QUOTE_MAX} characters` : textProblem(text, true);
  if (problem) throw errors.validation({ quote: problem });
  return text;
}

/** repost_count := the number of repost rows, in the caller's transaction; answers the state for `userId`. */
async function recount(tx: Db, postId: string, userId: string): Promise<RepostState> {
  const [p] = await tx
    .update(posts)
    .set({ repostCount: sql`(SELECT count(*) FROM ${reposts} WHERE ${reposts.postId} = ${postId})` })
    .where(eq(posts.id, postId))
    .returning({ n: posts.repostCount });
  const [mine] = await tx
    .select({ quote: reposts.quote })
    .from(reposts)
    .where(and(eq(reposts.userId, userId), eq(reposts.postId, postId)))
    .limit(1);
  return { is_reposted: Boolean(mine), repost_count: p?.n ?? 0, quote: mine?.quote ?? "" };
}

const dedupeKey = (ownerId: string, actorId: string, postId: string) => notificationDedupeKey({ kind: "repost", userId: ownerId, actorId, postId });

/**
 * Reposts the loop for `userId`, idempotently (a repeat keeps the first repost, its time and quote). 404
 * post_not_found for a loop they cannot see, 409 own_post for their own.
 */
export async function repostPost(deps: Deps, userId: string, postId: string, quote = ""): Promise<RepostState> {
  const done = await deps.database.tx(
    async (tx) => {
      const post = await findInteractablePost(tx, postId, userId);
      if (post.userId === userId) throw errors.conflict("own_post", "You cannot repost your own loop: your followers already have it");
      const made = await tx
        .insert(reposts)
        .values({ userId, postId, quote, createdAt: deps.clock.now() })
        .onConflictDoNothing()
        .returning({ postId: reposts.postId });
      if (made.length) await createNotification(deps, tx, { kind: "repost", userId: post.userId, actorId: userId, postId });
      return { ownerId: post.userId, made: made.length > 0, state: await recount(tx, postId, userId) };
    },
    {
      afterCommit: (o) => {
        if (o.made) void pushNotification(deps, o.ownerId, dedupeKey(o.ownerId, userId, postId)).catch(() => undefined);
      },
    },
  );
  return done.state;
}

/** Takes back `userId`'s repost and its notification (idempotent; works on a loop since hidden from them). */
export function unrepostPost(deps: Deps, userId: string, postId: string): Promise<RepostState> {
  return deps.database.tx(async (tx) => {
    const gone = await tx
      .delete(reposts)
      .where(and(eq(reposts.userId, userId), eq(reposts.postId, postId)))
      .returning({ postId: reposts.postId });
    if (!gone.length) await findInteractablePost(tx, postId, userId);
    else {
      const [p] = await tx.select({ ownerId: posts.userId }).from(posts).where(eq(posts.id, postId)).limit(1);
      if (p) await tx.delete(notifications).where(eq(notifications.dedupeKey, dedupeKey(p.ownerId, userId, postId)));
    }
    return recount(tx, postId, userId);
  });
}

/**
 * Reposts or takes the repost back, whichever changes it: the plugin's repost without a quote (a POST without a
 * body) and its undo (a DELETE) both arrive as `GET /posts/{id}/repost` (docs/plugin-contract.md "Transport rules").
 */
export async function toggleRepost(deps: Deps, userId: string, postId: string): Promise<RepostState> {
  const reposted = await hasMemberRow(deps.database.db, reposts, userId, postId);
  return reposted ? unrepostPost(deps, userId, postId) : repostPost(deps, userId, postId);
}

/**
 * Who reposted a loop the viewer can see, most recent first, leaving out members blocked with the viewer either
 * way. Keyset on (created_at, user id) over reposts_post_idx; offset for the plugin.
 */
export async function listReposters(deps: Deps, viewerId: string | null, postId: string, page: Page) {
  const [p] = await deps.database.db
    .select({ status: posts.status, blocked: blockedWith(viewerId, posts.userId) })
    .from(posts)
    .where(eq(posts.id, postId))
    .limit(1);
  if (p?.status !== "ready" || Number(p.blocked)) throw errors.notFound("post_not_found", "No such post");
  const c = page.before;
  return deps.database.db
    .select({ user: users, quote: reposts.quote, at: reposts.createdAt })
    .from(reposts)
    .innerJoin(users, eq(users.id, reposts.userId))
    .where(
      and(
        eq(reposts.postId, postId),
        sql`NOT ${blockedWith(viewerId, reposts.userId)}`,
        c ? or(lt(reposts.createdAt, c.createdAt), and(eq(reposts.createdAt, c.createdAt), lt(reposts.userId, c.id))) : undefined,
      ),
    )
    .orderBy(desc(reposts.createdAt), desc(reposts.userId))
    .limit(page.limit + 1)
    .offset(page.offset);
}

/**
 * When an account goes (admin/users.ts deleteAccount), in its transaction: its reposts are deleted and the
 * repost_count of each loop it had reposted is recounted, so everyone else's counts stay exact.
 */
export async function removeRepostsOf(tx: Db, userId: string): Promise<void> {
  const gone = await tx.delete(reposts).where(eq(reposts.userId, userId)).returning({ postId: reposts.postId });
  for (const g of gone) {
    await tx
      .update(posts)
      .set({ repostCount: sql`(SELECT count(*) FROM ${reposts} WHERE ${reposts.postId} = ${g.postId})` })
      .where(eq(posts.id, g.postId));
  }
}

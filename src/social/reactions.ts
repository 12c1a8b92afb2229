// Emoji reactions: one per user per post (a new emoji replaces the old one), from a closed set. The post's
// like_count counts its reactions (every emoji) and is rewritten from the rows in the same transaction as the
// change, so it is exact by construction; the mutation answers with the post's exact counts.
//
// After the commit of every call (a repeat too), the owner and the post's recent viewers get post_liked /
// post_unliked with the counts the call answers, and setting a reaction pushes the owner's reaction notification
// (docs/architecture.md, "Data rules").
import { and, count, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { posts, reactions } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { mirrorReaction } from "../integrations/stream.ts";
import { findInteractablePost } from "./activity.ts";
import { publishReaction } from "../realtime/events.ts";
import { createNotification, notificationDedupeKey, pushNotification } from "./notifications.ts";

/** The allowed reactions, in their stored (canonical) form. */
export const REACTION_EMOJI = ["🎵", "❤️", "🔥", "😍", "🚀", "💯"] as const;
export type ReactionEmoji = (typeof REACTION_EMOJI)[number];
/** What the plugin's like means when it names no emoji. */
export const DEFAULT_REACTION: ReactionEmoji = "❤️";

// Emoji travel with or without a variation selector (❤️ is U+2764 U+FE0F; many keyboards send a bare U+2764, and
// some clients add U+FE0F to emoji that do not need it). Compare without selectors, store the canonical form.
const withoutSelectors = (s: string) => s.replace(/[\uFE0E\uFE0F]/g, "");
const CANONICAL = new Map<string, ReactionEmoji>(REACTION_EMOJI.map((e) => [withoutSelectors(e), e]));

/** The canonical form of an allowed emoji, or null. */
export function canonicalEmoji(raw: string): ReactionEmoji | null {
  return CANONICAL.get(withoutSelectors(raw.trim())) ?? null;
}

/** An allowed emoji or a 400 invalid_emoji. */
export function requireEmoji(raw: string): ReactionEmoji {
  const e = canonicalEmoji(raw);
  if (!e) throw errors.badRequest("invalid_emoji", `Reactions are one of ${REACTION_EMOJI.join(" ")}`, { emoji: "Not an allowed reaction" });
  return e;
}

export type ReactionState = {
  like_count: number;
  is_liked: boolean;
  reaction_counts: Record<string, number>;
  user_reaction: string;
};

/** Per-emoji counts of one post (the (post_id, emoji) index answers it). */
export async function reactionCounts(db: Db, postId: string): Promise<Record<string, number>> {
  const rows = await db.select({ emoji: reactions.emoji, n: count() }).from(reactions).where(eq(reactions.postId, postId)).groupBy(reactions.emoji);
  const out: Record<string, number> = {};
  for (const r of rows) out[r.emoji] = Number(r.n);
  return out;
}

async function stateOf(tx: Db, postId: string, userEmoji: string | null): Promise<ReactionState> {
  const [p] = await tx.select({ likeCount: posts.likeCount }).from(posts).where(eq(posts.id, postId)).limit(1);
  return { like_count: p?.likeCount ?? 0, is_liked: userEmoji !== null, reaction_counts: await reactionCounts(tx, postId), user_reaction: userEmoji ?? "" };
}

/** like_count := the number of reaction rows, written in the caller's transaction. */
async function recountLikes(tx: Db, postId: string) {
  await tx
    .update(posts)
    .set({ likeCount: sql`(SELECT count(*) FROM ${reactions} WHERE ${reactions.postId} = ${postId})` })
    .where(eq(posts.id, postId));
}

type Outcome = { ownerId: string; state: ReactionState };

/** After the commit: the reaction event, and (for a set reaction) the owner's notification. */
function announce(deps: Deps, viewerId: string, postId: string, liked: boolean, { ownerId, state }: Outcome) {
  void publishReaction(deps, {
    postId,
    ownerId,
    actorId: viewerId,
    liked,
    emoji: state.user_reaction,
    likeCount: state.like_count,
    reactionCounts: state.reaction_counts,
  });
  if (liked && ownerId !== viewerId) {
    const key = notificationDedupeKey({ kind: "reaction", userId: ownerId, actorId: viewerId, postId, emoji: "" });
    void pushNotification(deps, ownerId, key).catch(() => undefined);
  }
}

/**
 * Sets the viewer's reaction on a post (insert, or replace the emoji). Idempotent: the same emoji again changes
 * nothing (no write, no notification, no mirror job), so the plugin's retries are harmless.
 */
export async function setReaction(deps: Deps, viewerId: string, postId: string, emoji: ReactionEmoji): Promise<ReactionState> {
  const done = await deps.database.tx<Outcome>(
    async (tx) => {
      const post = await findInteractablePost(tx, postId, viewerId);
      const now = deps.clock.now();
      // Uniqueness is the primary key's job: one upsert, which returns a row only when something changed.
      const changed = await tx
        .insert(reactions)
        .values({ userId: viewerId, postId, emoji, createdAt: now })
        .onConflictDoUpdate({
          target: [reactions.userId, reactions.postId],
          set: { emoji: sql`excluded.emoji`, createdAt: now },
          setWhere: sql`${reactions.emoji} <> excluded.emoji`,
        })
        .returning({ emoji: reactions.emoji });
      if (changed.length) {
        await recountLikes(tx, postId);
        await createNotification(deps, tx, { kind: "reaction", userId: post.userId, actorId: viewerId, postId, emoji });
        await mirrorReaction(deps, tx, viewerId, postId);
      }
      return { ownerId: post.userId, state: await stateOf(tx, postId, emoji) };
    },
    { afterCommit: (o) => announce(deps, viewerId, postId, true, o) },
  );
  return done.state;
}

/** Removes the viewer's reaction. Idempotent: nothing to remove is success with is_liked false. */
export async function removeReaction(deps: Deps, viewerId: string, postId: string): Promise<ReactionState> {
  const done = await deps.database.tx<Outcome>(
    async (tx) => {
      const post = await findInteractablePost(tx, postId, viewerId);
      const gone = await tx
        .delete(reactions)
        .where(and(eq(reactions.userId, viewerId), eq(reactions.postId, postId)))
        .returning({ emoji: reactions.emoji });
      if (gone.length) {
        await recountLikes(tx, postId);
        // The reaction notification stays (see notifications.ts): un-reacting and reacting again cannot spam.
        await mirrorReaction(deps, tx, viewerId, postId);
      }
      return { ownerId: post.userId, state: await stateOf(tx, postId, null) };
    },
    { afterCommit: (o) => announce(deps, viewerId, postId, false, o) },
  );
  return done.state;
}

/**
 * The web app's reaction button (web/social-actions.ts): the emoji the viewer already gave takes it back, another
 * one sets or replaces it. The same two services as the API's PUT and DELETE.
 */
export async function toggleReaction(deps: Deps, viewerId: string, postId: string, emoji: ReactionEmoji): Promise<ReactionState> {
  const [mine] = await deps.database.db
    .select({ emoji: reactions.emoji })
    .from(reactions)
    .where(and(eq(reactions.userId, viewerId), eq(reactions.postId, postId)))
    .limit(1);
  return mine?.emoji === emoji ? removeReaction(deps, viewerId, postId) : setReaction(deps, viewerId, postId, emoji);
}

// Plays: counted once per listener per post per 30 minutes, with posts.play_count changed in the same transaction
// as the play row. The check and the insert run inside one write transaction (database.tx takes the write lock up
// front: BEGIN IMMEDIATE on SQLite, an immediate transaction on libSQL), so two concurrent plays of one listener
// cannot both count. Every listener counts, the post's author too.
import { and, desc, eq, gt, sql } from "drizzle-orm";
import { plays, posts } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { newId } from "../lib/crypto.ts";
import { findInteractablePost } from "./activity.ts";

export const PLAY_WINDOW_MS = 30 * 60_000;
/** The longest listen we record (a loop played on repeat); longer values are refused. */
export const MAX_LISTEN_SECONDS = 24 * 3600;

export type PlayResult = { play_count: number; counted: boolean };

export async function recordPlay(deps: Deps, listenerId: string, postId: string): Promise<PlayResult> {
  return deps.database.tx(async (tx) => {
    await findInteractablePost(tx, postId, listenerId);
    const now = deps.clock.now();
    // (post_id, user_id, created_at) index: one probe.
    const [recent] = await tx
      .select({ id: plays.id })
      .from(plays)
      .where(and(eq(plays.postId, postId), eq(plays.userId, listenerId), gt(plays.createdAt, now - PLAY_WINDOW_MS)))
      .limit(1);
    if (recent) {
      const [p] = await tx.select({ n: posts.playCount }).from(posts).where(eq(posts.id, postId));
      return { play_count: p?.n ?? 0, counted: false };
    }
    await tx.insert(plays).values({ id: newId(), userId: listenerId, postId, createdAt: now });
    const [p] = await tx
      .update(posts)
      .set({ playCount: sql`${posts.playCount} + 1` })
      .where(eq(posts.id, postId))
      .returning({ n: posts.playCount });
    return { play_count: p?.n ?? 0, counted: true };
  });
}

/**
 * Records how long the listener listened, on their latest play of the post (the longest report wins). Accepted and
 * ignored (recorded: false) when there is no play of theirs to attach it to.
 */
export async function recordListenDuration(deps: Deps, listenerId: string, postId: string, seconds: number): Promise<{ recorded: boolean }> {
  return deps.database.tx(async (tx) => {
    await findInteractablePost(tx, postId, listenerId);
    const [latest] = await tx
      .select({ id: plays.id, listenMs: plays.listenMs })
      .from(plays)
      .where(and(eq(plays.postId, postId), eq(plays.userId, listenerId)))
      .orderBy(desc(plays.createdAt))
      .limit(1);
    if (!latest) return { recorded: false };
    const ms = Math.round(seconds * 1000);
    if ((latest.listenMs ?? -1) < ms) await tx.update(plays).set({ listenMs: ms }).where(eq(plays.id, latest.id));
    return { recorded: true };
  });
}

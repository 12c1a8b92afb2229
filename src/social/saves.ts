// Saved loops (README "Saves"): a member's private list of loops to come back to. Saving is idempotent; the loop's
// save_count is rewritten from the rows in the same transaction, so it is exact by construction (like like_count,
// social/reactions.ts). Only loops the member may act on can be saved (ready, not hidden by a block: the check of
// reactions, social/activity.ts). The list shows what is still visible: a saved loop that was taken down, withheld or
// whose producer is blocked either way drops out of it (and comes back if that changes), a deleted one is gone
// with its rows. Nobody else sees whom a loop was saved by; the producer sees only the count.
import { and, desc, eq, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { posts, saves, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { Page } from "../http/pagination.ts";
import { findInteractablePost, hasMemberRow } from "./activity.ts";
import { blockedWith } from "./block-states.ts";

export type SaveState = { is_saved: boolean; save_count: number };

/** save_count := the number of save rows, in the caller's transaction; answers the state for `userId`. */
async function recount(tx: Db, postId: string, userId: string): Promise<SaveState> {
  const [p] = await tx
    .update(posts)
    .set({ saveCount: sql`(SELECT count(*) FROM ${saves} WHERE ${saves.postId} = ${postId})` })
    .where(eq(posts.id, postId))
    .returning({ n: posts.saveCount });
  return { is_saved: await hasMemberRow(tx, saves, userId, postId), save_count: p?.n ?? 0 };
}

/** Saves the loop for `userId` (idempotent). 404 post_not_found for a loop they cannot see. */
export function savePost(deps: Deps, userId: string, postId: string): Promise<SaveState> {
  return deps.database.tx(async (tx) => {
    await findInteractablePost(tx, postId, userId);
    await tx.insert(saves).values({ userId, postId, createdAt: deps.clock.now() }).onConflictDoNothing();
    return recount(tx, postId, userId);
  });
}

/** Takes the loop out of `userId`'s saves (idempotent; works on a loop that has since been hidden from them). */
export function unsavePost(deps: Deps, userId: string, postId: string): Promise<SaveState> {
  return deps.database.tx(async (tx) => {
    const gone = await tx
      .delete(saves)
      .where(and(eq(saves.userId, userId), eq(saves.postId, postId)))
      .returning({ id: saves.postId });
    if (!gone.length) await findInteractablePost(tx, postId, userId);
    return recount(tx, postId, userId);
  });
}

/**
 * Saves or unsaves, whichever changes it: the plugin's save (a POST without a body) and unsave (a DELETE) both arrive
 * as `GET /posts/{id}/save` (docs/plugin-contract.md "Transport rules").
 */
export async function toggleSave(deps: Deps, userId: string, postId: string): Promise<SaveState> {
  const saved = await hasMemberRow(deps.database.db, saves, userId, postId);
  return saved ? unsavePost(deps, userId, postId) : savePost(deps, userId, postId);
}

/**
 * The member's saved loops that they can still see, most recently saved first, with their authors: one row over
 * the page size tells has_more (http/pagination.ts pageOf). Keyset on (saved_at, post id); offset for the plugin.
 */
export async function listSaved(deps: Deps, userId: string, page: Page) {
  const c = page.before;
  return deps.database.db
    .select({
      post: posts,
      author: { id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey },
      savedAt: saves.createdAt,
    })
    .from(saves)
    .innerJoin(posts, eq(posts.id, saves.postId))
    .innerJoin(users, eq(users.id, posts.userId))
    .where(
      and(
        eq(saves.userId, userId),
        eq(posts.status, "ready"),
        sql`NOT ${blockedWith(userId, posts.userId)}`,
        c ? or(lt(saves.createdAt, c.createdAt), and(eq(saves.createdAt, c.createdAt), lt(saves.postId, c.id))) : undefined,
      ),
    )
    .orderBy(desc(saves.createdAt), desc(saves.postId))
    .limit(page.limit + 1)
    .offset(page.offset);
}

/**
 * When an account goes (admin/users.ts deleteAccount), in its transaction: its saves are deleted and the save_count
 * of each loop it had saved is recounted, so everyone else's counts stay exact.
 */
export async function removeSavesOf(tx: Db, userId: string): Promise<void> {
  const gone = await tx.delete(saves).where(eq(saves.userId, userId)).returning({ postId: saves.postId });
  for (const g of gone) {
    await tx
      .update(posts)
      .set({ saveCount: sql`(SELECT count(*) FROM ${saves} WHERE ${saves.postId} = ${g.postId})` })
      .where(eq(posts.id, g.postId));
  }
}

// Posts: visibility, reading and deletion. Per-viewer fields (reactions, follows, presence) are filled by the social
// and realtime features through `PostExtras` (./models.ts).
import { and, count, desc, eq, lt, or, sql } from "drizzle-orm";
import { posts, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { errorFields } from "../log.ts";
import { keyPrefix } from "../storage/index.ts";
import { mirrorPostDeleted } from "../integrations/stream.ts";
import { toPost, type PostT } from "./models.ts";
import { blockedWith } from "../social/block-states.ts";

// The post's JSON is defined in one place, with its schema (./models.ts); re-exported for the callers of this service.
export { toPost, type PostExtras, type PostRow } from "./models.ts";

/**
 * A post with its author, if the viewer may see it: a post that is not ready is visible to its owner only, and a
 * post of someone the viewer blocks or is blocked by is not there for the viewer (README "Blocking and muting").
 */
export async function findVisiblePost(deps: Deps, id: string, viewerId: string | null) {
  const [row] = await deps.database.db
    .select({
      post: posts,
      author: { id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey },
      blocked: blockedWith(viewerId, posts.userId),
    })
    .from(posts)
    .innerJoin(users, eq(users.id, posts.userId))
    .where(eq(posts.id, id))
    .limit(1);
  if (!row || (row.post.status !== "ready" && row.post.userId !== viewerId) || Number(row.blocked)) return null;
  return { post: row.post, author: row.author };
}

export async function getPost(deps: Deps, id: string, viewerId: string | null): Promise<PostT> {
  const row = await findVisiblePost(deps, id, viewerId);
  if (!row) throw errors.notFound("post_not_found", "No such post");
  return toPost(deps, row.post, row.author, viewerId);
}

/** A user's posts, newest first (keyset on created_at, id). The owner also sees posts still processing or failed. */
export async function listUserPosts(
  deps: Deps,
  userId: string,
  viewerId: string | null,
  page: { limit: number; before?: { createdAt: number; id: string }; offset?: number },
) {
  const own = viewerId === userId;
  const conds = [eq(posts.userId, userId)];
  if (!own) conds.push(eq(posts.status, "ready"));
  if (page.before) conds.push(or(lt(posts.createdAt, page.before.createdAt), and(eq(posts.createdAt, page.before.createdAt), lt(posts.id, page.before.id)))!);
  const rows = await deps.database.db
    .select({ post: posts, author: { id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey } })
    .from(posts)
    .innerJoin(users, eq(users.id, posts.userId))
    .where(and(...conds))
    .orderBy(desc(posts.createdAt), desc(posts.id))
    .limit(page.limit + 1)
    .offset(page.offset ?? 0);
  return rows;
}

/**
 * How many posts a viewer sees in a user's list: everyone else sees the ready ones, which users.post_count counts
 * exactly (kept in the transactions that change it), so no COUNT(*) runs on every page; the owner also sees
 * processing and failed posts, counted over posts_user_created_idx.
 */
export async function countUserPosts(deps: Deps, userId: string, includeUnready: boolean): Promise<number> {
  if (!includeUnready) {
    const [u] = await deps.database.db.select({ n: users.postCount }).from(users).where(eq(users.id, userId)).limit(1);
    return u?.n ?? 0;
  }
  const [row] = await deps.database.db.select({ n: count() }).from(posts).where(eq(posts.userId, userId));
  return Number(row?.n ?? 0);
}

/** Deletes a post by its owner: the row, then every stored object under the post's prefix. */
export async function deletePost(deps: Deps, id: string, userId: string) {
  const [row] = await deps.database.db.select().from(posts).where(eq(posts.id, id)).limit(1);
  if (!row || row.userId !== userId) throw errors.notFound("post_not_found", "No such post of yours");
  await deps.database.tx(async (tx) => {
    const [gone] = await tx.delete(posts).where(eq(posts.id, id)).returning({ status: posts.status });
    // Reactions, plays and notifications of the post go with it (foreign keys, ON DELETE CASCADE).
    if (gone?.status === "ready")
      await tx
        .update(users)
        .set({ postCount: sql`${users.postCount} - 1` })
        .where(eq(users.id, row.userId));
    if (gone?.status === "ready") await mirrorPostDeleted(deps, tx, id, row.userId);
  });
  await removePostMedia(deps, id);
}

export async function removePostMedia(deps: Deps, postId: string) {
  try {
    await deps.storage.deletePrefix(keyPrefix(["loops", postId]));
  } catch (err) {
    deps.log.error("could not delete a post's media", { post_id: postId, ...errorFields(err) });
  }
}

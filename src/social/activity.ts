// What reactions, plays, saves and reposts act on: a post, named by the plugin as its id or as its activity object
// "loop:<id>", and whether a member already has their row on it.
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { posts, type reposts, type saves } from "../db/schema.ts";
import { errors } from "../http/errors.ts";
import { blockedWith } from "./block-states.ts";

/** The post id in an activity id: "<id>" or "loop:<id>" (the post's `object` field). */
export function postIdOfActivity(activityId: string): string {
  const id = activityId.trim().replace(/^loop:/, "");
  if (!id || id.length > 64) throw errors.validation({ activity_id: "Give a post id or loop:<post id>" });
  return id;
}

export type InteractablePost = { id: string; userId: string };

/**
 * The post a viewer may react to or play: a ready post. A post that is not ready is visible to its owner only, so
 * anyone else gets the same 404 as for a post that does not exist (no probing for unpublished posts); the owner
 * is told it is not ready yet. A loop of someone the viewer blocks or is blocked by is the same 404.
 */
export async function findInteractablePost(db: Db, postId: string, viewerId: string): Promise<InteractablePost> {
  const [p] = await db
    .select({ id: posts.id, userId: posts.userId, status: posts.status, blocked: blockedWith(viewerId, posts.userId) })
    .from(posts)
    .where(eq(posts.id, postId))
    .limit(1);
  if (!p || (p.status !== "ready" && p.userId !== viewerId) || Number(p.blocked)) throw errors.notFound("post_not_found", "No such post");
  if (p.status !== "ready") throw errors.conflict("post_not_ready", "This loop is not published yet");
  return { id: p.id, userId: p.userId };
}

/** Whether the member has their row on the loop in a (user, post) table: a save, a repost (its primary key). */
export async function hasMemberRow(db: Db, table: typeof saves | typeof reposts, userId: string, postId: string): Promise<boolean> {
  const rows = await db
    .select({ id: table.postId })
    .from(table)
    .where(and(eq(table.userId, userId), eq(table.postId, postId)))
    .limit(1);
  return rows.length > 0;
}

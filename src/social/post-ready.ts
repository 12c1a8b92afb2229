// What happens when a loop is published (its post becomes ready), in the transaction that makes it ready: the
// author's followers are notified and the post is queued for the Stream.io mirror. Called by the process-loop job.
import type { Db } from "../db/client.ts";
import type { Deps } from "../deps.ts";
import { mirrorPostReady } from "../integrations/stream.ts";
import { notifyFollowersOfNewPost } from "./notifications.ts";

export async function onPostReady(deps: Deps, tx: Db, postId: string, authorId: string): Promise<void> {
  await notifyFollowersOfNewPost(deps, tx, postId, authorId);
  await mirrorPostReady(deps, tx, postId, authorId);
}

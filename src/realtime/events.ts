// The one-line hooks features call AFTER their transaction has committed (never inside it: a rolled-back write
// must not reach anyone). Each returns a promise that never rejects; `void publishX(...)` is fine, awaiting it only
// waits for the Redis PUBLISH. The hub of every instance turns the event into frames for the right connections.
import type { Deps } from "../deps.ts";
import type { RealtimeEvent } from "./bus.ts";
import { errorFields } from "../log.ts";

type BusDeps = Pick<Deps, "bus" | "log">;

async function publish(deps: BusDeps, event: RealtimeEvent) {
  try {
    await deps.bus.publish(event);
  } catch (err) {
    deps.log.error("realtime: publish failed", { type: event.type, ...errorFields(err) });
  }
}

/** A post became ready: `new_post` {id, author, post} to the author's followers. */
export function publishPostReady(deps: BusDeps, postId: string) {
  return publish(deps, { type: "post_ready", post_id: postId });
}

export type ReactionChange = {
  postId: string;
  /** The post's author (looked up by the delivering hub when not given). */
  ownerId?: string;
  /** Who reacted. */
  actorId: string;
  /** true: a reaction was added or its emoji changed (post_liked); false: removed (post_unliked). */
  liked: boolean;
  emoji?: string;
  likeCount: number;
  reactionCounts: Record<string, number>;
};

/** `post_liked` / `post_unliked` {post_id, like_count, reaction_counts} to the owner and the post's recent viewers. */
export function publishReaction(deps: BusDeps, r: ReactionChange) {
  return publish(deps, {
    type: "reaction",
    post_id: r.postId,
    owner_id: r.ownerId,
    actor_id: r.actorId,
    liked: r.liked,
    emoji: r.emoji ?? "",
    like_count: r.likeCount,
    reaction_counts: r.reactionCounts,
  });
}

export type CommentChange = { postId: string; ownerId: string; actorId: string; commentId: string; commentCount: number; created: boolean };

/**
 * `new_comment` {post_id, comment, comment_count} (created) or `comment_deleted` {post_id, comment_id, comment_count}
 * to the loop's producer and its recent viewers, as reactions reach them.
 */
export function publishComment(deps: BusDeps, c: CommentChange) {
  return publish(deps, {
    type: "comment",
    post_id: c.postId,
    owner_id: c.ownerId,
    actor_id: c.actorId,
    comment_id: c.commentId,
    comment_count: c.commentCount,
    created: c.created,
  });
}

/** `follow` (or `unfollow` when following is false) {followee_id, follower_id, follower_count} to the followee. */
export function publishFollow(deps: BusDeps, f: { followerId: string; followeeId: string; followerCount: number; following?: boolean }) {
  return publish(deps, {
    type: "follow",
    follower_id: f.followerId,
    followee_id: f.followeeId,
    follower_count: f.followerCount,
    following: f.following ?? true,
  });
}

/** `notification` {payload: notification} to its recipient (the notification as the notifications API shows it). */
export function publishNotification(deps: BusDeps, recipientId: string, notification: Record<string, unknown>) {
  return publish(deps, { type: "notification", user_id: recipientId, notification });
}

/**
 * Posts just shown to a user over HTTP (a feed page, a profile): for WS_WATCH_TTL_MS that user's connections also
 * get post_liked/post_unliked for them. Call it from read routes with the page's post ids; cheap (one bus message).
 */
export function notePostsSeen(deps: BusDeps, userId: string | null | undefined, postIds: readonly string[]) {
  if (!userId || postIds.length === 0) return Promise.resolve();
  return publish(deps, { type: "posts_seen", user_id: userId, post_ids: postIds.slice(0, 200) });
}

/**
 * A block or mute between two users was made or undone (social/blocks.ts): every instance's hub forgets the hidden
 * sets it keeps for them, so their sockets' delivery filter reads the new state (README "Blocking and muting").
 */
export function publishHidesChanged(deps: BusDeps, userIds: readonly string[]) {
  return publish(deps, { type: "hides_changed", user_ids: [...userIds] });
}

/** Sessions of a user were revoked (logout, logout-all, password change/reset): their sockets are re-checked now. */
export function publishSessionsRevoked(deps: BusDeps, userId: string) {
  return publish(deps, { type: "sessions_revoked", user_id: userId });
}

/**
 * show_activity_status changed: followers get the user's presence as it shows now (offline when hidden, the live
 * state when shown again). Call after the profile update commits.
 */
export async function publishPresenceVisibility(deps: BusDeps & Pick<Deps, "presence">, userId: string) {
  const v = (await deps.presence.view([userId]).catch(() => undefined))?.get(userId);
  if (!v) return;
  return publish(deps, { type: "presence", user_id: userId, status: v.status, daw: v.daw, last_active: v.last_active });
}

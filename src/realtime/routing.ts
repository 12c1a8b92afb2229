// Which connected users a bus event reaches, and the frames they get (docs/plugin-contract.md "WebSocket"):
//   new_post       the author's followers, when the post becomes ready (never the author, never a non-follower)
//   post_liked/..  the post's owner, and users who were shown the post recently (watches.ts)
//   new_comment/comment_deleted   the same: the loop's producer and its recent viewers
//   follow/..      the followee;   notification   its recipient;   presence   the user's followers
// Routing reads the database (the post, the followers), so the hub runs it concurrently and delivers in order.
// Each answer also names whom the event is from or about (`about`): the hub hands it to nobody who blocks or is
// blocked by one of them, nor a new_post (`feed`) to someone who mutes its author (README "Blocking and muting").
import type { Deps } from "../deps.ts";
import { findVisiblePost, toPost } from "../posts/service.ts";
import { commentView } from "../social/comments.ts";
import type { RealtimeEvent } from "./bus.ts";
import { serverFrame } from "./protocol.ts";
import { followerIds } from "./queries.ts";
import type { Watches } from "./watches.ts";

/**
 * The users to hand the frames to (those connected here), whom the event is from or about, and whether it is feed
 * content (muting hides it too); or null when nobody here gets anything.
 */
export type Routed = { to: Iterable<string>; data: string | string[]; about: string[]; feed?: boolean } | null;

/** What routing needs to know of this instance: who is connected here, and who watches which post. */
export type Here = { isConnected(userId: string): boolean; watches: Watches };

export async function routeEvent(deps: Deps, event: RealtimeEvent, here: Here): Promise<Routed> {
  const { clock, presence } = deps;
  const frame = (type: string, payload: unknown, top?: Record<string, unknown>) => serverFrame(type, payload, clock.now(), top);
  const connected = (ids: Iterable<string>) => [...ids].filter((id) => here.isConnected(id));
  switch (event.type) {
    case "post_ready": {
      const row = await findVisiblePost(deps, event.post_id, null);
      if (row?.post.status !== "ready") return null;
      const to = connected(await followerIds(deps, row.post.userId));
      if (to.length === 0) return null;
      const authorPresence = (await presence.lookup([row.post.userId])).get(row.post.userId);
      // Every recipient follows the author and is not the author: one rendering serves them all.
      const post = toPost(deps, row.post, row.author, null, { is_following: true, ...authorPresence });
      return { to, data: frame("new_post", { id: post.id, author: post.user, post }), about: [row.post.userId], feed: true };
    }
    case "reaction": {
      const now = clock.now();
      const ownerId = event.owner_id ?? (await findVisiblePost(deps, event.post_id, null))?.post.userId;
      const to = new Set<string>(ownerId ? [ownerId] : []);
      for (const userId of here.watches.recipients(event.post_id, now)) to.add(userId);
      const payload = { post_id: event.post_id, like_count: event.like_count, reaction_counts: event.reaction_counts };
      return { to, data: frame(event.liked ? "post_liked" : "post_unliked", payload), about: ownerId ? [ownerId, event.actor_id] : [event.actor_id] };
    }
    case "comment": {
      const to = new Set<string>([event.owner_id, ...here.watches.recipients(event.post_id, clock.now())]);
      const about = [event.owner_id, event.actor_id];
      if (!event.created) {
        const payload = { post_id: event.post_id, comment_id: event.comment_id, comment_count: event.comment_count };
        return { to, data: frame("comment_deleted", payload), about };
      }
      // One neutral rendering (no viewer): clients fill in their own is_liked / can_edit when they refetch.
      const comment = await commentView(deps, event.comment_id, null).catch(() => null);
      if (!comment) return null;
      return { to, data: frame("new_comment", { post_id: event.post_id, comment, comment_count: event.comment_count }), about };
    }
    case "follow": {
      const payload = { followee_id: event.followee_id, follower_id: event.follower_id, follower_count: event.follower_count };
      const about = [event.follower_id];
      if (event.following) return { to: [event.followee_id], data: frame("follow", payload), about };
      // The plugin ignores `unfollow`; it reads followee_id and follower_count of `follower_count_update` (and of
      // `follow`, so a follow needs no second frame): plugin/src/core/PluginEditor.cpp handleWebSocketMessage.
      return { to: [event.followee_id], data: [frame("unfollow", payload), frame("follower_count_update", payload)], about };
    }
    case "notification": {
      const actor = event.notification.actor_id;
      return { to: [event.user_id], data: frame("notification", event.notification), about: typeof actor === "string" ? [actor] : [] };
    }
    case "presence": {
      const to = connected(await followerIds(deps, event.user_id));
      if (to.length === 0) return null;
      const view = {
        user_id: event.user_id,
        is_online: event.status !== "offline",
        is_in_studio: event.status === "in_studio",
        status: event.status,
        last_active: event.last_active,
        daw: event.daw,
      };
      return { to, data: frame("presence", view, view), about: [event.user_id] };
    }
    default:
      return null;
  }
}

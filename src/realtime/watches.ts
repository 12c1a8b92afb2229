// Which posts each connected user is watching on this instance: reactions to a watched post reach the user for
// WS_WATCH_TTL_MS after it was last shown to them (notePostsSeen from the HTTP read routes, or a `watch` frame).
// Two maps kept in step: user → (post → until when, oldest first) and post → users, so routing a reaction looks up
// one post and a user's watches are capped.

/** Posts one user watches at most; watching more drops the oldest. */
export const WATCH_MAX_PER_USER = 500;
/** Post ids taken from one watch (a frame, or one page of notePostsSeen); the rest are ignored. */
export const WATCH_MAX_PER_FRAME = 100;

/** A post id as clients send it: the id, or its object "loop:<id>". */
const postIdOf = (id: string) => id.replace(/^loop:/, "");

export interface Watches {
  /** Watches the first WATCH_MAX_PER_FRAME posts (ids that are not strings of 1–64 characters are skipped) until
   * now + TTL; the ids taken. */
  watch(userId: string, postIds: readonly unknown[], now: number): string[];
  unwatch(userId: string, postIds: readonly unknown[]): void;
  /** The posts a user watches, oldest first. */
  of(userId: string): string[];
  /** Drops every watch of a user (gone from this instance). */
  forget(userId: string): void;
  /** The users watching a post now (expired watches of it are dropped on the way). */
  recipients(postId: string, now: number): string[];
  /** Drops every expired watch. */
  sweep(now: number): void;
}

export function createWatches(opts: { ttlMs: number; maxPerUser?: number }): Watches {
  const max = opts.maxPerUser ?? WATCH_MAX_PER_USER;
  const byUser = new Map<string, Map<string, number>>();
  const byPost = new Map<string, Set<string>>();

  function drop(userId: string, postId: string) {
    const mine = byUser.get(userId);
    mine?.delete(postId);
    if (mine?.size === 0) byUser.delete(userId);
    const set = byPost.get(postId);
    set?.delete(userId);
    if (set?.size === 0) byPost.delete(postId);
  }

  return {
    watch(userId, postIds, now) {
      const until = now + opts.ttlMs;
      let mine = byUser.get(userId);
      if (!mine) byUser.set(userId, (mine = new Map()));
      const accepted: string[] = [];
      for (const id of postIds.slice(0, WATCH_MAX_PER_FRAME)) {
        if (typeof id !== "string" || !id || id.length > 64) continue;
        const postId = postIdOf(id);
        mine.delete(postId); // re-insert: the Map's order is oldest first
        mine.set(postId, until);
        let set = byPost.get(postId);
        if (!set) byPost.set(postId, (set = new Set()));
        set.add(userId);
        accepted.push(postId);
      }
      while (mine.size > max) drop(userId, mine.keys().next().value!);
      if (mine.size === 0) byUser.delete(userId);
      return accepted;
    },
    unwatch(userId, postIds) {
      for (const id of postIds) if (typeof id === "string") drop(userId, postIdOf(id));
    },
    of: (userId) => [...(byUser.get(userId)?.keys() ?? [])],
    forget(userId) {
      for (const postId of [...(byUser.get(userId)?.keys() ?? [])]) drop(userId, postId);
    },
    recipients(postId, now) {
      const to: string[] = [];
      for (const userId of [...(byPost.get(postId) ?? [])]) {
        if ((byUser.get(userId)?.get(postId) ?? 0) > now) to.push(userId);
        else drop(userId, postId);
      }
      return to;
    },
    sweep(now) {
      for (const [userId, mine] of [...byUser]) for (const [postId, until] of [...mine]) if (until <= now) drop(userId, postId);
    },
  };
}

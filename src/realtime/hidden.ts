// What each connected user does not get over the WebSocket (README "Blocking and muting"): the users they block or
// are blocked by, and those they mute (for feed content only). The hub asks for it at delivery, so it is kept per
// user while they are connected here and dropped when they leave (forget) or when a block or mute between them and
// someone changes (invalidate, from the `hides_changed` bus event, which every instance gets through Redis).
//
// A read started before an invalidation must not be kept after it: the entry is the promise of the read, and an
// invalidation removes it, so a late result lands nowhere and the next delivery reads again.
import type { Hidden } from "../social/block-states.ts";

export type HiddenCache = {
  get(userId: string): Promise<Hidden>;
  invalidate(userId: string): void;
  /** Entries held (for tests and the hub's bookkeeping). */
  readonly size: number;
};

export function createHiddenCache(read: (userId: string) => Promise<Hidden>): HiddenCache {
  const entries = new Map<string, Promise<Hidden>>();
  return {
    get(userId) {
      let p = entries.get(userId);
      if (!p) {
        const mine = read(userId);
        entries.set(userId, mine);
        // A failed read is not kept: the next delivery tries again.
        mine.catch(() => entries.get(userId) === mine && entries.delete(userId));
        p = mine;
      }
      return p;
    },
    invalidate(userId) {
      entries.delete(userId);
    },
    get size() {
      return entries.size;
    },
  };
}

/** Whether a frame from or about `about` (and feed content when `feed`) may go to a user who hides `hidden`. */
export function mayDeliver(hidden: Hidden, about: readonly string[], feed: boolean): boolean {
  for (const id of about) if (hidden.blocked.has(id) || (feed && hidden.muted.has(id))) return false;
  return true;
}

// Presence as everyone else reads it (deps.presence): HTTP answers, author presence in feeds and user objects.
// The hub (hub.ts) is what changes presence; this is the read side plus the rules every reader obeys: a user
// with show_activity_status = false is never shown (offline, last_active null), to anyone; a user's full presence
// (status, DAW, last activity) goes to the user and their followers only (seesPresenceOf), as the WebSocket does.
import type { Deps } from "../deps.ts";
import { followState, seesPresence } from "../social/follow-states.ts";
import { OFFLINE, type PresenceAggregate, type PresenceStore } from "./presence-store.ts";
import type { Presence, PresenceFlags, PresenceView } from "./presence-types.ts";
import { followees, visibility } from "./queries.ts";

export type { Presence, PresenceFlags, PresenceView } from "./presence-types.ts";

/** What a viewer who may not see a user's presence gets: the same fields and types, saying offline. */
export const offlineView = (userId: string): PresenceView => ({
  user_id: userId,
  is_online: false,
  is_in_studio: false,
  status: "offline",
  daw: "",
  last_active: null,
});

/** True when `viewerId` may see the presence of `userId`: the user themself, or one of their followers. */
export async function seesPresenceOf(deps: Deps, viewerId: string | null, userId: string): Promise<boolean> {
  if (!viewerId || viewerId === userId) return seesPresence(viewerId, userId, false);
  return seesPresence(viewerId, userId, (await followState(deps, viewerId, userId)).is_following);
}

export function presenceView(userId: string, a: PresenceAggregate, shown: boolean, lastActiveAt: number | null): PresenceView {
  if (!shown) return offlineView(userId);
  // While online, the last activity is at least when the status was set; the column is written throttled.
  const last = Math.max(lastActiveAt ?? 0, a.online ? a.at : 0);
  return {
    user_id: userId,
    is_online: a.online,
    is_in_studio: a.online && a.status === "in_studio",
    status: a.online ? a.status : "offline",
    daw: a.online && a.status === "in_studio" ? a.daw : "",
    last_active: last > 0 ? new Date(last).toISOString() : null,
  };
}

export function createPresence(deps: Pick<Deps, "database">, store: PresenceStore): Presence {
  async function view(userIds: readonly string[]) {
    const ids = [...new Set(userIds)];
    const out = new Map<string, PresenceView>();
    if (ids.length === 0) return out;
    const [vis, states] = await Promise.all([visibility(deps, ids), store.read(ids)]);
    for (const id of ids) {
      const v = vis.get(id);
      if (!v) continue;
      out.set(id, presenceView(id, states.get(id) ?? OFFLINE, v.shown, v.lastActiveAt));
    }
    return out;
  }
  return {
    store,
    view,
    async lookup(userIds) {
      const views = await view(userIds);
      const out = new Map<string, PresenceFlags>();
      for (const id of userIds) {
        const v = views.get(id);
        out.set(id, { is_online: v?.is_online ?? false, is_in_studio: v?.is_in_studio ?? false });
      }
      return out;
    },
    close: () => store.close(),
  };
}

const rank = { in_studio: 0, online: 1, away: 2, offline: 3 } as const;
const MAX_LISTED = 200;

export type FollowingPresence = {
  users: (PresenceView & { username: string; display_name: string; avatar_url: string })[];
  online_count: number;
  in_studio_count: number;
};

/** Who among the people `userId` follows is online now (in the studio first, then online, then away; newest
 *  activity first), at most 200, with the counts. GET /presence/following and the web app's home page. */
export async function followingPresence(deps: Deps, userId: string): Promise<FollowingPresence> {
  const rows = await followees(deps, userId);
  const states = await deps.presence.store.read(rows.map((r) => r.id));
  const online = rows
    .map((r) => ({
      ...presenceView(r.id, states.get(r.id)!, r.showActivityStatus, r.lastActiveAt),
      username: r.username,
      display_name: r.displayName,
      avatar_url: r.avatarKey ? deps.mediaUrl(r.avatarKey) : "",
    }))
    .filter((v) => v.is_online)
    .sort((a, b) => rank[a.status] - rank[b.status] || (b.last_active ?? "").localeCompare(a.last_active ?? ""));
  return { users: online.slice(0, MAX_LISTED), online_count: online.length, in_studio_count: online.filter((v) => v.is_in_studio).length };
}

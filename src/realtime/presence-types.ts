// The types of deps.presence, in their own module so deps.ts does not import presence.ts (which reads the
// database through deps): the read side itself is presence.ts.
import type { PresenceStatus } from "./bus.ts";
import type { PresenceStore } from "./presence-store.ts";

/** What a `presence` frame and the presence routes carry (docs/plugin-contract.md "Presence": the plugin reads them). */
export type PresenceView = {
  user_id: string;
  is_online: boolean;
  is_in_studio: boolean;
  status: PresenceStatus;
  /** The DAW a user said they are in (with in_studio); "" otherwise. */
  daw: string;
  last_active: string | null;
};

export type PresenceFlags = { is_online: boolean; is_in_studio: boolean };

export interface Presence {
  readonly store: PresenceStore;
  /**
   * is_online / is_in_studio of each user, hidden users already off: what toPost()/toPublicUser() extras take.
   * One database read (visibility) and one store read, whatever the number of ids.
   */
  lookup(userIds: readonly string[]): Promise<Map<string, PresenceFlags>>;
  /** The full view of each existing user (unknown ids are absent from the map). */
  view(userIds: readonly string[]): Promise<Map<string, PresenceView>>;
  close(): Promise<void>;
}

// Users as the API shows them. The social counters and per-viewer fields are filled by the social feature;
// presence by the realtime hub.
import { eq, sql } from "drizzle-orm";
import { identities, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { Database, Db } from "../db/client.ts";
import type { PreparedById } from "../caches.ts";
import { newId } from "../lib/crypto.ts";
import { followStates, seesPresence } from "../social/follow-states.ts";
import type { PublicUserT, SelfUserT } from "./models.ts";

export type UserRow = typeof users.$inferSelect;

/** A complete new account row: the given identity fields, everything else at its starting value. */
export function newUserRow(fields: Pick<UserRow, "email" | "emailVerified" | "username" | "displayName" | "passwordHash">, now: number): UserRow {
  return {
    id: newId(),
    ...fields,
    bio: "",
    location: "",
    genre: "",
    daw: "",
    website: "",
    socialLinks: {},
    avatarKey: null,
    showActivityStatus: true,
    followerCount: 0,
    followingCount: 0,
    postCount: 0,
    lastActiveAt: null,
    role: "member",
    suspendedAt: null,
    suspensionReason: "",
    uploadQuotaPerDay: null,
    uploadQuotaMb: null,
    approval: "approved",
    signupNote: "",
    inviteId: null,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Writes a new account in the caller's (write) transaction. The first account of a server becomes its owner
 * (docs/security.md "Roles and staff actions"): the check and the insert are in one write transaction, so two
 * first sign-ups at once cannot both become owner.
 */
export async function insertNewUser(tx: Db, user: UserRow): Promise<UserRow> {
  const [someone] = await tx.select({ id: users.id }).from(users).limit(1);
  const row: UserRow = someone ? user : { ...user, role: "owner" };
  await tx.insert(users).values(row);
  return row;
}

/**
 * What depends on the viewer (follow state) or on live state (presence); the counters come from the row.
 * `presence_visible`: the viewer is the user or follows them, so presence and last_active may show (still subject to
 * the user's show_activity_status); absent means hidden (docs/security.md, Data exposure).
 */
export type ViewerExtras = Partial<Pick<PublicUserT, "is_following" | "follows_you" | "is_online" | "is_in_studio">> & { presence_visible?: boolean };

export function toPublicUser(deps: Deps, u: UserRow, extras: ViewerExtras = {}): PublicUserT {
  const shown = u.showActivityStatus && extras.presence_visible === true;
  return {
    id: u.id,
    username: u.username,
    display_name: u.displayName,
    bio: u.bio,
    avatar_url: u.avatarKey ? deps.mediaUrl(u.avatarKey) : "",
    location: u.location,
    genre: u.genre,
    daw: u.daw,
    website: u.website,
    social_links: u.socialLinks ?? {},
    follower_count: u.followerCount,
    following_count: u.followingCount,
    post_count: u.postCount,
    is_following: extras.is_following ?? false,
    follows_you: extras.follows_you ?? false,
    is_online: shown ? (extras.is_online ?? false) : false,
    is_in_studio: shown ? (extras.is_in_studio ?? false) : false,
    last_active: shown && u.lastActiveAt ? new Date(u.lastActiveAt).toISOString() : null,
    created_at: new Date(u.createdAt).toISOString(),
  };
}

/**
 * Everything about a page of users that depends on the viewer or on live state: follow states both ways (one
 * query) and presence (src/realtime; hidden users are off; only the viewer's own and their followees'). A page of users costs the same whatever its size.
 */
export async function viewerExtras(deps: Deps, viewerId: string | null, userIds: readonly string[]): Promise<Map<string, ViewerExtras>> {
  const states = await followStates(deps, viewerId, userIds);
  // Presence only of the viewer and the people they follow, as over the WebSocket.
  const visible = new Set(userIds.filter((id) => seesPresence(viewerId, id, states.get(id)?.is_following === true)));
  const presence = visible.size ? await deps.presence.lookup([...visible]) : new Map();
  const out = new Map<string, ViewerExtras>();
  for (const id of userIds) out.set(id, { ...states.get(id), ...presence.get(id), presence_visible: visible.has(id) });
  return out;
}

/** The statement behind getUserById, prepared once per process (deps.caches.userById, built in src/index.ts). */
export const prepareUserById = (database: Database): PreparedById<UserRow> =>
  database.db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder("id")))
    .limit(1)
    .prepare() as never;

// Read on every authenticated request (the guard).
export async function getUserById(deps: Deps, id: string): Promise<UserRow | undefined> {
  const [u] = await deps.caches.userById.all({ id });
  return u;
}

export async function linkedProviders(deps: Deps, userId: string): Promise<string[]> {
  const rows = await deps.database.db.select({ provider: identities.provider }).from(identities).where(eq(identities.userId, userId));
  return rows.map((r) => r.provider).sort();
}

/** The signed-in user's own record: the public shape plus email, verification, password and providers. */
export async function toSelfUser(deps: Deps, u: UserRow, extras: ViewerExtras = {}): Promise<SelfUserT> {
  return {
    ...toPublicUser(deps, u, { presence_visible: true, ...extras }),
    email: u.email ?? "",
    email_verified: u.emailVerified,
    has_password: u.passwordHash !== null,
    linked_providers: await linkedProviders(deps, u.id),
    role: roleOf(u),
  };
}

export type Role = "owner" | "moderator" | "member";
export const ROLES: readonly Role[] = ["owner", "moderator", "member"];
/** The row's role (an unknown value, which the server never writes, counts as member). */
export const roleOf = (u: Pick<UserRow, "role">): Role => ((ROLES as readonly string[]).includes(u.role) ? (u.role as Role) : "member");
/** Owners and moderators. */
export const isStaff = (u: Pick<UserRow, "role">) => roleOf(u) !== "member";

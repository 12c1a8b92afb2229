// Profiles: looking a user up by id or username, the public user as a given viewer sees it, editing your own
// profile and changing your username. Field rules live here, in one place, with the messages clients show.
import { eq, or } from "drizzle-orm";
import { users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { mirrorUserUpsert } from "../integrations/stream.ts";
import { queueCardRedraw } from "../posts/card.ts";
import { publishPresenceVisibility } from "../realtime/events.ts";
import { errors } from "../http/errors.ts";
import { normalizeText, normalizeUsername, textProblem, usernameProblem } from "../lib/text.ts";
import type { PublicUserT } from "./models.ts";
import { toPublicUser, viewerExtras, type UserRow } from "./service.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { blockedBetween } from "../social/block-states.ts";

/**
 * A user by id or by username (case-insensitive). Ids (UUIDv7, 36 characters) and usernames (at most 30) can never
 * be confused, so one indexed lookup on either unique column is enough.
 */
export async function findUserByIdOrUsername(deps: Deps, idOrUsername: string): Promise<UserRow | undefined> {
  const key = idOrUsername.trim();
  if (!key || key.length > 64) return undefined;
  const [u] = await deps.database.db
    .select()
    .from(users)
    .where(or(eq(users.id, key), eq(users.username, key.toLowerCase())))
    .limit(1);
  // A suspended account is gone for everyone but staff (who find it through the admin service): no profile, no
  // follows, no feed (docs/security.md "Roles and staff actions").
  // A sign-up waiting for approval is invisible the same way (README "Invites and approval").
  return u?.suspendedAt == null && u?.approval !== "pending" ? u : undefined;
}

/** The public user for a viewer (or nobody): is_following / follows_you filled in one query. 404 when unknown. */
export async function getPublicProfile(deps: Deps, idOrUsername: string, viewer: UserRow | null): Promise<PublicUserT> {
  // "me" names the signed-in user (no username can be "me": usernames have at least 3 characters).
  const u = idOrUsername === "me" && viewer ? viewer : await findUserByIdOrUsername(deps, idOrUsername);
  // Blocked either way: the same 404 as an unknown user, so a block is not announced (README "Blocking and muting").
  if (!u || (viewer && (await blockedBetween(deps.database.db, viewer.id, u.id)))) throw errors.notFound("user_not_found", "No such user");
  return toPublicUser(deps, u, (await viewerExtras(deps, viewer?.id ?? null, [u.id])).get(u.id));
}

export type ProfileInput = {
  display_name?: string;
  bio?: string;
  location?: string;
  genre?: string;
  daw?: string;
  website?: string;
  social_links?: Record<string, string>;
  show_activity_status?: boolean;
};

/** Bounds, in characters (code points). */
export const PROFILE_LIMITS = {
  display_name: 60,
  bio: 500,
  location: 100,
  genre: 50,
  daw: 60,
  website: 200,
  social_links: 10,
  social_link_name: 32,
  social_link_value: 200,
} as const;

// Profile text follows the text rules of src/lib/text.ts: NFC; no control characters (they corrupt terminals, logs
// and the plugin's labels), no invisible or direction-changing characters (they make text read as something it is
// not). Single-line fields also refuse line breaks and tabs; the bio may keep them.
const LINK_NAME = /^[A-Za-z0-9_.-]+$/;
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

const chars = (s: string) => [...s].length;

/** An http(s) URL with a host, or null. Anything else (javascript:, data:, relative paths) is refused. */
function httpUrl(value: string): URL | null {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname ? url : null;
  } catch {
    return null;
  }
}

/**
 * Checks a profile edit and returns the columns to set. Every problem is reported at once, by field name
 * (400 validation_error with `fields`). Absent fields are left unchanged; `social_links` replaces the whole set
 * (an empty value drops that link); an empty display_name falls back to the username.
 */
export function validateProfile(input: ProfileInput, username: string): Partial<UserRow> {
  const fields: Record<string, string> = {};
  const set: Partial<UserRow> = {};

  const text = (name: keyof typeof PROFILE_LIMITS, raw: string | undefined, multiLine = false): string | undefined => {
    if (raw === undefined) return undefined;
    const value = normalizeText(raw, multiLine);
    const max = PROFILE_LIMITS[name];
    const problem = textProblem(value, multiLine);
    if (problem) fields[name] = problem;
    else if (chars(value) > max) fields[name] = `At most ${max} characters`;
    return value;
  };

  const displayName = text("display_name", input.display_name);
  if (displayName !== undefined) set.displayName = displayName || username;
  const bio = text("bio", input.bio, true);
  if (bio !== undefined) set.bio = bio;
  const location = text("location", input.location);
  if (location !== undefined) set.location = location;
  const genre = text("genre", input.genre);
  if (genre !== undefined) set.genre = genre;
  const daw = text("daw", input.daw);
  if (daw !== undefined) set.daw = daw;

  const website = text("website", input.website);
  if (website !== undefined) {
    // No server-side fetch ever happens with it (no SSRF); the scheme check keeps javascript: out of web pages.
    if (website && !fields.website && !httpUrl(website)) fields.website = "Must be an http:// or https:// address, or empty";
    set.website = website;
  }

  // (An array passes the schema's record check, with keys "0", "1"...: refuse it here.)
  if (Array.isArray(input.social_links)) fields.social_links = "An object of link names to strings";
  else if (input.social_links !== undefined) {
    const links: Record<string, string> = {};
    const entries = Object.entries(input.social_links);
    for (const [name, raw] of entries) {
      const key = `social_links.${name}`;
      const value = normalizeText(raw);
      const problem = textProblem(value);
      if (!LINK_NAME.test(name) || name.length > PROFILE_LIMITS.social_link_name) {
        fields[key] = `Link names are 1 to ${PROFILE_LIMITS.social_link_name} letters, digits, _ . -`;
      } else if (problem) {
        fields[key] = problem;
      } else if (chars(value) > PROFILE_LIMITS.social_link_value) {
        fields[key] = `At most ${PROFILE_LIMITS.social_link_value} characters`;
      } else if (HAS_SCHEME.test(value) && !httpUrl(value)) {
        // A handle ("@nightbeats") or an http(s) link; never another scheme (javascript:, data:).
        fields[key] = "A handle or an http:// or https:// address";
      } else if (value) {
        links[name] = value;
      }
    }
    if (Object.keys(links).length > PROFILE_LIMITS.social_links) fields.social_links = `At most ${PROFILE_LIMITS.social_links} links`;
    set.socialLinks = links;
  }

  if (input.show_activity_status !== undefined) set.showActivityStatus = input.show_activity_status;

  if (Object.keys(fields).length) throw errors.validation(fields);
  return set;
}

/** Applies a profile edit to the signed-in user and returns the updated row. */
export async function updateProfile(deps: Deps, user: UserRow, input: ProfileInput): Promise<UserRow> {
  const set = validateProfile(input, user.username);
  if (Object.keys(set).length === 0) return user;
  // The change and its Stream mirror job commit together (the job is the outbox: nothing is lost).
  const row = await deps.database.tx(
    async (tx) => {
      const [updated] = await tx
        .update(users)
        .set({ ...set, updatedAt: deps.clock.now() })
        .where(eq(users.id, user.id))
        .returning();
      if (updated) await mirrorUserUpsert(deps, tx, updated.id);
      // The loops' share cards show the display name (posts/card.ts).
      if (updated && updated.displayName !== user.displayName) await queueCardRedraw(deps, tx, updated.id);
      return updated;
    },
    {
      // Hiding or showing one's activity status: followers see the change at once (offline, or the live state).
      afterCommit: (updated) => {
        if (updated && updated.showActivityStatus !== user.showActivityStatus) void publishPresenceVisibility(deps, updated.id).catch(() => undefined);
      },
    },
  );
  if (!row) throw errors.notFound("user_not_found", "This account no longer exists");
  return row;
}

/** Changes the signed-in user's username: same rules as registration, uniqueness by the DB constraint (409). */
export async function changeUsername(deps: Deps, user: UserRow, raw: string): Promise<UserRow> {
  const username = normalizeUsername(raw);
  if (username === user.username) return user;
  const problem = usernameProblem(username);
  if (problem) throw errors.validation({ username: problem });
  try {
    const row = await deps.database.tx(async (tx) => {
      const [updated] = await tx.update(users).set({ username, updatedAt: deps.clock.now() }).where(eq(users.id, user.id)).returning();
      if (updated) await mirrorUserUpsert(deps, tx, updated.id);
      if (updated) await queueCardRedraw(deps, tx, updated.id);
      return updated;
    });
    if (!row) throw errors.notFound("user_not_found", "This account no longer exists");
    return row;
  } catch (err) {
    // Uniqueness is the database's job: no read-then-write race between two people taking the same name.
    if (isUniqueViolation(err, "username")) throw errors.conflict("username_taken", "That username is taken");
    throw err;
  }
}

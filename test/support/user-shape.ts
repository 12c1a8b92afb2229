// Exact JSON types of a user object (docs/plugin-contract.md "Users"). The plugin drops a whole user on one wrong type,
// so every user a scenario sees goes through here: the exact key set, strings are strings, counts are integers,
// booleans are booleans, timestamps are ISO-8601, and a public user carries nothing private.
import { expect } from "bun:test";

export const PUBLIC_USER_KEYS = [
  "id",
  "username",
  "display_name",
  "bio",
  "avatar_url",
  "location",
  "genre",
  "daw",
  "website",
  "social_links",
  "follower_count",
  "following_count",
  "post_count",
  "is_following",
  "follows_you",
  "is_online",
  "is_in_studio",
  "last_active",
  "created_at",
] as const;
export const SELF_USER_KEYS = [...PUBLIC_USER_KEYS, "email", "email_verified", "has_password", "linked_providers", "role"] as const;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Describes the type problems of `u` as a list (empty when it is right), so a failure names every field at once. */
export function userTypeProblems(u: Record<string, unknown>, self = false): string[] {
  const problems: string[] = [];
  const keys = Object.keys(u).sort();
  const expected = [...(self ? SELF_USER_KEYS : PUBLIC_USER_KEYS)].sort();
  if (JSON.stringify(keys) !== JSON.stringify(expected)) problems.push(`keys ${JSON.stringify(keys)} ≠ ${JSON.stringify(expected)}`);
  for (const k of ["id", "username", "display_name", "bio", "avatar_url", "location", "genre", "daw", "website"]) {
    if (typeof u[k] !== "string") problems.push(`${k} is ${typeof u[k]}, not a string`);
  }
  for (const k of ["follower_count", "following_count", "post_count"]) {
    if (!Number.isInteger(u[k]) || (u[k] as number) < 0) problems.push(`${k} = ${JSON.stringify(u[k])} is not a non-negative integer`);
  }
  for (const k of ["is_following", "follows_you", "is_online", "is_in_studio"]) {
    if (typeof u[k] !== "boolean") problems.push(`${k} is ${typeof u[k]}, not a boolean`);
  }
  const links = u.social_links;
  if (typeof links !== "object" || links === null || Array.isArray(links)) problems.push("social_links is not an object");
  else for (const [k, v] of Object.entries(links)) if (typeof v !== "string") problems.push(`social_links.${k} is not a string`);
  if (!(u.last_active === null || (typeof u.last_active === "string" && ISO.test(u.last_active))))
    problems.push(`last_active = ${JSON.stringify(u.last_active)}`);
  if (!(typeof u.created_at === "string" && ISO.test(u.created_at))) problems.push(`created_at = ${JSON.stringify(u.created_at)}`);
  if (typeof u.avatar_url === "string" && u.avatar_url !== "" && !/^https?:\/\//.test(u.avatar_url)) problems.push("avatar_url is not absolute");
  if (self) {
    if (typeof u.email !== "string") problems.push("email is not a string");
    if (typeof u.email_verified !== "boolean") problems.push("email_verified is not a boolean");
    if (typeof u.has_password !== "boolean") problems.push("has_password is not a boolean");
    if (!Array.isArray(u.linked_providers) || !u.linked_providers.every((p) => typeof p === "string"))
      problems.push("linked_providers is not an array of strings");
    if (!["owner", "moderator", "member"].includes(u.role as string)) problems.push(`role ${JSON.stringify(u.role)} is not owner, moderator or member`);
  } else {
    // Privacy (docs/security.md "Data exposure"): nothing private, whatever its name.
    const text = JSON.stringify(u);
    for (const k of [
      "email",
      "email_verified",
      "has_password",
      "password_hash",
      "passwordHash",
      "linked_providers",
      "avatar_key",
      "show_activity_status",
      "role",
      "suspended_at",
    ]) {
      if (k in u) problems.push(`public user carries ${k}`);
    }
    if (/@example\.com/.test(text)) problems.push("public user contains an email address");
  }
  return problems;
}

export function expectPublicUser(u: unknown) {
  expect({ id: (u as { id?: unknown })?.id, problems: userTypeProblems(u as Record<string, unknown>) }).toEqual({
    id: (u as { id?: unknown })?.id,
    problems: [],
  });
}

export function expectSelfUser(u: unknown) {
  expect({ id: (u as { id?: unknown })?.id, problems: userTypeProblems(u as Record<string, unknown>, true) }).toEqual({
    id: (u as { id?: unknown })?.id,
    problems: [],
  });
}

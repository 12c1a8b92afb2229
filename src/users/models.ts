// User shapes of shared/API.md section 2. Public users never carry email, hashes, provider ids or flags.
import { t } from "elysia";

const publicUserExample = {
  id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
  username: "nightbeats",
  display_name: "Night Beats",
  bio: "Lo-fi loops at 2 am",
  avatar_url: "",
  location: "Berlin",
  genre: "Lo-fi",
  daw: "Ableton Live",
  website: "",
  social_links: { instagram: "nightbeats" },
  follower_count: 12,
  following_count: 3,
  post_count: 7,
  is_following: false,
  follows_you: false,
  is_online: false,
  is_in_studio: false,
  last_active: null,
  created_at: "2026-11-25T10:00:00.000Z",
};

const publicFields = {
  id: t.String(),
  username: t.String(),
  display_name: t.String(),
  bio: t.String(),
  avatar_url: t.String(),
  location: t.String(),
  genre: t.String(),
  daw: t.String(),
  website: t.String(),
  social_links: t.Record(t.String(), t.String()),
  follower_count: t.Integer(),
  following_count: t.Integer(),
  post_count: t.Integer(),
  is_following: t.Boolean(),
  follows_you: t.Boolean(),
  is_online: t.Boolean(),
  is_in_studio: t.Boolean(),
  last_active: t.Union([t.String({ format: "date-time" }), t.Null()]),
  created_at: t.String({ format: "date-time" }),
};

export const PublicUser = t.Object(publicFields, { examples: [publicUserExample] });

export const SelfUser = t.Object(
  {
    ...publicFields,
    email: t.String(),
    email_verified: t.Boolean(),
    has_password: t.Boolean(),
    linked_providers: t.Array(t.String()),
  },
  { examples: [{ ...publicUserExample, email: "night@example.com", email_verified: true, has_password: true, linked_providers: ["google"] }] },
);

export type PublicUserT = typeof PublicUser.static;
export type SelfUserT = typeof SelfUser.static;

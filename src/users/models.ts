// User shapes (docs/plugin-contract.md "Users"). Public users never carry email, hashes, provider ids or flags.
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
    role: t.Union([t.Literal("owner"), t.Literal("moderator"), t.Literal("member")], {
      description: "owner and moderators are staff: they see /admin and the admin API (docs/security.md, Roles and staff actions)",
    }),
  },
  {
    examples: [{ ...publicUserExample, email: "night@example.com", email_verified: true, has_password: true, linked_providers: ["google"], role: "member" }],
  },
);

export type PublicUserT = typeof PublicUser.static;
export type SelfUserT = typeof SelfUser.static;

// ── Request bodies of the profile routes. Types are checked here; lengths, URLs and the rest by
// validateProfile (src/users/profile.ts), which reports every problem by field name. ──

export const ProfileBody = t.Object(
  {
    display_name: t.Optional(t.String({ description: "at most 60 characters; empty means the username" })),
    bio: t.Optional(t.String({ description: "at most 500 characters; may span lines" })),
    location: t.Optional(t.String({ description: "at most 100 characters" })),
    genre: t.Optional(t.String({ description: "one string, at most 50 characters" })),
    daw: t.Optional(t.String({ description: "at most 60 characters" })),
    website: t.Optional(t.String({ description: "an http:// or https:// address, or empty" })),
    social_links: t.Optional(
      t.Record(t.String(), t.String(), {
        description:
          "replaces the whole set: at most 10, names of letters, digits, _ . - (≤ 32), values ≤ 200 (a handle or an http(s) " +
          "address); an empty value drops the link",
      }),
    ),
    show_activity_status: t.Optional(t.Boolean({ description: "false hides is_online, is_in_studio and last_active from everyone" })),
  },
  {
    examples: [
      {
        display_name: "Night Beats",
        bio: "Lo-fi loops at 2 am",
        location: "Berlin",
        genre: "Lo-fi",
        daw: "Ableton Live",
        website: "https://nightbeats.example",
        social_links: { instagram: "@nightbeats" },
        show_activity_status: true,
      },
    ],
  },
);

export const UsernameBody = t.Object(
  { username: t.String({ maxLength: 64, description: "3–30 of a-z 0-9 _ . - (stored lower-case; unique regardless of case)" }) },
  { examples: [{ username: "nightbeats" }] },
);

export const AvatarForm = t.Object({
  file: t.Optional(t.File({ description: "the picture (plugin's field name): JPEG, PNG, WebP or GIF decided by content, at most 5 MB" })),
  image: t.Optional(t.File({ description: "alternative field name" })),
  avatar: t.Optional(t.File({ description: "alternative field name" })),
});

export const AvatarResponse = t.Object(
  { url: t.String({ description: "absolute URL of the new picture (also the user's avatar_url)" }), user: SelfUser },
  {
    examples: [
      { url: "http://localhost:8787/media/avatars/01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e/5f0c9a3e2b7d4c1a8e6f0b2d4c6a8e0f.png", user: SelfUser.examples[0] },
    ],
  },
);

// The story and highlight shapes (docs/plugin-contract.md "Stories"): the fields the plugin's Story and
// StoryHighlight models read (src/models/Story.h, Story.cpp; src/ui/stories/StoriesFeed.cpp), each always present
// with a fixed JSON type, as for posts.
import { t } from "elysia";
import { Type } from "@sinclair/typebox";
import type { stories, storyHighlights, users } from "../db/schema.ts";
import { mediaUrls } from "../posts/models.ts";

const Int = () => Type.Integer();
const UserRef = t.Object({ id: t.String(), username: t.String(), display_name: t.String(), avatar_url: t.String() });

const ID = "01934f90-2d3e-7f40-9bac-1d2e3f4a5b6c";
const USER = "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e";
const media = (name: string) => `http://localhost:8787/media/stories/${USER}/${ID}/${name}`;
export const storyExample = {
  id: ID,
  user_id: USER,
  username: "nightbeats",
  user_display_name: "Night Beats",
  user_avatar_url: "",
  user: { id: USER, username: "nightbeats", display_name: "Night Beats", avatar_url: "" },
  status: "ready",
  audio_url: media("5e4d3c2b1a0f9e8d7c6b5a4938271605.ogg"),
  mp3_url: media("9f8e7d6c5b4a39281706f5e4d3c2b1a0.mp3"),
  waveform_url: media("7f6e5d4c3b2a19080f1e2d3c4b5a6978.png"),
  waveform_svg_url: media("0a1b2c3d4e5f60718293a4b5c6d7e8f9.svg"),
  peaks_url: media("1a2b3c4d5e6f708192a3b4c5d6e7f809.json"),
  audio_duration: 14.2,
  filename: "Late night sketch",
  midi_filename: "",
  midi_data: null,
  midi_pattern_id: "",
  waveform_data: "",
  bpm: 92,
  key: "Am",
  genres: ["lofi"],
  view_count: 4,
  viewed: false,
  created_at: "2026-12-05T21:00:00.000Z",
  expires_at: "2026-12-06T21:00:00.000Z",
};

export const Story = t.Object(
  {
    id: t.String(),
    user_id: t.String(),
    username: t.String(),
    user_display_name: t.String(),
    user_avatar_url: t.String(),
    user: UserRef,
    status: t.Union([t.Literal("processing"), t.Literal("ready"), t.Literal("failed")]),
    audio_url: t.String({ description: "Ogg Vorbis (what the plugin plays); serves once the story is ready" }),
    mp3_url: t.String(),
    waveform_url: t.String({ description: "PNG" }),
    waveform_svg_url: t.String(),
    peaks_url: t.String(),
    audio_duration: t.Number({ description: "seconds, as measured by the pipeline (0 while processing)" }),
    filename: t.String({ description: "the title the producer gave it" }),
    midi_filename: t.String(),
    midi_data: t.Union([t.Record(t.String(), t.Unknown()), t.Null()], { description: "the plugin's MIDI events (piano roll), null without" }),
    midi_pattern_id: t.String(),
    waveform_data: t.String({ description: "always empty (the plugin's legacy inline SVG)" }),
    bpm: Int(),
    key: t.String(),
    genres: t.Array(t.String()),
    view_count: Int(),
    viewed: t.Boolean({ description: "whether the signed-in member has viewed it (always true for the producer)" }),
    created_at: t.String(),
    expires_at: t.String({ description: "created_at + 24 h; a story kept in a highlight outlives it" }),
  },
  { examples: [storyExample] },
);
export type StoryT = typeof Story.static;

export type StoryRow = typeof stories.$inferSelect;
export type StoryAuthor = Pick<typeof users.$inferSelect, "id" | "username" | "displayName" | "avatarKey">;
type MediaUrl = { mediaUrl(key: string): string };

export function toStory(deps: MediaUrl, s: StoryRow, author: StoryAuthor, viewed: boolean): StoryT {
  const avatar = author.avatarKey ? deps.mediaUrl(author.avatarKey) : "";
  return {
    id: s.id,
    user_id: s.userId,
    username: author.username,
    user_display_name: author.displayName,
    user_avatar_url: avatar,
    user: { id: author.id, username: author.username, display_name: author.displayName, avatar_url: avatar },
    status: s.status as StoryT["status"],
    ...mediaUrls(deps, s),
    audio_duration: s.durationSeconds ?? 0,
    filename: s.title,
    midi_filename: "",
    midi_data: s.midiData ?? null,
    midi_pattern_id: "",
    waveform_data: "",
    bpm: Math.round(s.bpm ?? 0),
    key: s.key,
    genres: s.genres,
    view_count: s.viewCount,
    viewed,
    created_at: new Date(s.createdAt).toISOString(),
    expires_at: new Date(s.expiresAt).toISOString(),
  };
}

/** One producer's live stories in the feed, oldest first (the plugin's StoriesFeed groups: src/ui/stories/StoriesFeed.cpp). */
export const StoryGroup = t.Object({
  user_id: t.String(),
  username: t.String(),
  display_name: t.String(),
  avatar_url: t.String(),
  has_unviewed: t.Boolean(),
  stories: t.Array(Story),
});

export const highlightExample = {
  id: "01934fa0-3e4f-7051-8cbd-2e3f4a5b6c7d",
  user_id: USER,
  name: "Jams",
  description: "Late sessions",
  cover_image: "",
  sort_order: 0,
  story_count: 1,
  created_at: "2026-12-05T22:00:00.000Z",
  updated_at: "2026-12-05T22:00:00.000Z",
};

export const Highlight = t.Object(
  {
    id: t.String(),
    user_id: t.String(),
    name: t.String(),
    description: t.String(),
    cover_image: t.String({ description: "the first story's waveform PNG; empty for an empty highlight" }),
    sort_order: Int(),
    story_count: Int(),
    created_at: t.String(),
    updated_at: t.String(),
  },
  { examples: [highlightExample] },
);
export const HighlightWithStories = t.Composite([Highlight, t.Object({ stories: t.Array(Story) })], {
  examples: [{ ...highlightExample, stories: [storyExample] }],
});
export type HighlightT = typeof Highlight.static;
export type HighlightRow = typeof storyHighlights.$inferSelect;

export function toHighlight(h: HighlightRow, storyCount: number, cover: string): HighlightT {
  return {
    id: h.id,
    user_id: h.userId,
    name: h.name,
    description: h.description,
    cover_image: cover,
    sort_order: h.sortOrder,
    story_count: storyCount,
    created_at: new Date(h.createdAt).toISOString(),
    updated_at: new Date(h.updatedAt).toISOString(),
  };
}

/** Who viewed a story (its producer only sees this). */
export const StoryViewer = t.Object({
  user_id: t.String(),
  username: t.String(),
  display_name: t.String(),
  avatar_url: t.String(),
  user: UserRef,
  viewed_at: t.String(),
});

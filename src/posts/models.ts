// The post (a.k.a. activity) shape (docs/plugin-contract.md "Posts"): one shape in every feed and answer. The plugin's
// JSON parser drops a whole post on one wrong type, so every field has a fixed type and is always present.
import { t } from "elysia";
import { Type } from "@sinclair/typebox";
import type { posts, users } from "../db/schema.ts";

// Integers are TypeBox's plain Type.Integer, not Elysia's t.Integer: that one is a transform (it also accepts
// numeric strings), which makes every answer holding it go through TypeBox's Encode (~150 µs for a 20-post page)
// and would let a string pass where the plugin needs a number.
const Int = () => Type.Integer();

export const postExample = {
  id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
  actor: "user:01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
  verb: "posted",
  object: "loop:01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
  time: "2026-11-25T21:00:00.000Z",
  created_at: "2026-11-25T21:00:00.000Z",
  user_id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
  username: "nightbeats",
  user_avatar_url: "",
  user: { id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e", username: "nightbeats", display_name: "Night Beats", avatar_url: "" },
  status: "ready",
  audio_url: "http://localhost:8787/media/loops/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b/5e4d3c2b1a0f9e8d7c6b5a4938271605.ogg",
  mp3_url: "http://localhost:8787/media/loops/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b/9f8e7d6c5b4a39281706f5e4d3c2b1a0.mp3",
  waveform_url: "http://localhost:8787/media/loops/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b/7f6e5d4c3b2a19080f1e2d3c4b5a6978.png",
  waveform_svg_url: "http://localhost:8787/media/loops/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b/0a1b2c3d4e5f60718293a4b5c6d7e8f9.svg",
  peaks_url: "http://localhost:8787/media/loops/01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b/1a2b3c4d5e6f708192a3b4c5d6e7f809.json",
  filename: "Midnight chords",
  duration_seconds: 16,
  duration_bars: 8,
  bpm: 120,
  key: "Am",
  daw: "Ableton Live",
  genres: ["lofi"],
  loudness_lufs: -14.1,
  like_count: 3,
  play_count: 10,
  download_count: 2,
  comment_count: 0,
  save_count: 1,
  repost_count: 0,
  is_pinned: false,
  pin_order: 0,
  reaction_counts: { "🔥": 2, "❤️": 1 },
  is_a_repost: false,
  user_reaction: "",
  is_liked: false,
  is_following: false,
  is_own_post: false,
  is_saved: false,
  is_reposted: false,
  midi_id: "",
  is_online: false,
  is_in_studio: false,
};

// Only on a repost entry of the timeline (docs/plugin-contract.md "Reposts"): the plugin takes the mere presence of
// original_post_id for a repost (FeedPost.cpp), so these keys are absent from every other post, never empty.
const RepostFields = {
  original_post_id: t.Optional(t.String({ description: "repost entries only: the loop (same as id)" })),
  original_user_id: t.Optional(t.String({ description: "repost entries only: its producer (same as user_id)" })),
  original_username: t.Optional(t.String({ description: "repost entries only: its producer's username" })),
  original_avatar_url: t.Optional(t.String({ description: 'repost entries only: its producer\'s picture, or ""' })),
  repost_quote: t.Optional(t.String({ description: 'repost entries only: what the reposter wrote, or ""' })),
  reposted_by: t.Optional(
    t.Object(
      { id: t.String(), username: t.String(), display_name: t.String(), avatar_url: t.String() },
      { description: "repost entries only: who reposted it (someone you follow)" },
    ),
  ),
  reposted_at: t.Optional(t.String({ format: "date-time", description: "repost entries only: when; the entry's place in the timeline" })),
};

export const Post = t.Object(
  {
    id: t.String(),
    actor: t.String(),
    verb: t.Literal("posted"),
    object: t.String(),
    time: t.String({ format: "date-time" }),
    created_at: t.String({ format: "date-time" }),
    user_id: t.String(),
    username: t.String(),
    user_avatar_url: t.String(),
    user: t.Object({ id: t.String(), username: t.String(), display_name: t.String(), avatar_url: t.String() }),
    status: t.Union([t.Literal("processing"), t.Literal("ready"), t.Literal("failed"), t.Literal("withheld"), t.Literal("removed")]),
    audio_url: t.String({ description: "What the plugin plays: Ogg Vorbis (the MP3 on a post made before the Ogg existed, until it has one)" }),
    mp3_url: t.String({ description: "128 kbps MP3, for browsers" }),
    waveform_url: t.String({ description: "PNG waveform for the plugin's card (the SVG until an older post has its PNG)" }),
    waveform_svg_url: t.String({ description: "SVG waveform, for the web" }),
    peaks_url: t.String({ description: "Waveform peaks as a JSON array of numbers 0..1" }),
    peaks: t.Optional(t.Array(t.Number({ minimum: 0, maximum: 1 }))),
    filename: t.String(),
    duration_seconds: t.Number(),
    duration_bars: Int(),
    bpm: t.Number(),
    key: t.String(),
    daw: t.String(),
    genres: t.Array(t.String()),
    loudness_lufs: t.Number(),
    like_count: Int(),
    play_count: Int(),
    download_count: Type.Integer({ description: "times saved to a DAW folder (GET /posts/{id}/download)" }),
    comment_count: Int(),
    save_count: Type.Integer({ description: "how many members saved the loop (POST /posts/{id}/save)" }),
    repost_count: Type.Integer({ description: "how many members reposted the loop (POST /posts/{id}/repost)" }),
    is_pinned: t.Boolean({ description: "whether its producer pinned it to their profile" }),
    pin_order: Type.Integer({ description: "its place among the pinned loops, 1 to 3; 0 when not pinned" }),
    reaction_counts: t.Record(t.String(), Int()),
    is_a_repost: t.Boolean({ description: "true on a timeline entry that is there because someone you follow reposted the loop" }),
    ...RepostFields,
    user_reaction: t.String(),
    is_liked: t.Boolean(),
    is_following: t.Boolean(),
    is_own_post: t.Boolean(),
    is_saved: t.Boolean({ description: "whether the viewer saved the loop" }),
    is_reposted: t.Boolean({ description: "whether the viewer reposted the loop" }),
    midi_id: t.String(),
    is_online: t.Boolean(),
    is_in_studio: t.Boolean(),
  },
  { examples: [postExample] },
);
export type PostT = typeof Post.static;

/** "8 bars", "92 BPM", "A minor": what a loop's card, share text and page say about it (empty parts left out). */
export function loopFacts(p: Pick<PostT, "duration_bars" | "bpm" | "key">): string[] {
  return [p.duration_bars ? `${p.duration_bars} bars` : "", p.bpm ? `${Math.round(p.bpm * 10) / 10} BPM` : "", p.key || ""].filter(Boolean);
}

/** The post's media URLs (docs/plugin-contract.md "Posts"). */
export function mediaUrls(deps: MediaUrl, p: Pick<PostRow, "audioKey" | "oggKey" | "waveformKey" | "waveformPngKey" | "peaksKey">) {
  return {
    audio_url: deps.mediaUrl(p.oggKey ?? p.audioKey),
    mp3_url: deps.mediaUrl(p.audioKey),
    waveform_url: deps.mediaUrl(p.waveformPngKey ?? p.waveformKey),
    waveform_svg_url: deps.mediaUrl(p.waveformKey),
    peaks_url: deps.mediaUrl(p.peaksKey),
  };
}

export type PostRow = typeof posts.$inferSelect;
type Author = Pick<typeof users.$inferSelect, "id" | "username" | "displayName" | "avatarKey">;
type MediaUrl = { mediaUrl(key: string): string };

export type PostExtras = Partial<
  Pick<PostT, "reaction_counts" | "user_reaction" | "is_liked" | "is_following" | "is_saved" | "is_reposted" | "is_online" | "is_in_studio" | "peaks">
> & { repost?: RepostOf };

/** A timeline entry's repost: who reposted the loop, when, and what they wrote (social/reposts.ts). */
export type RepostOf = { by: Author; at: number; quote: string };

/** The Stream.io mirror's activity names the loop the same way (integrations/stream.ts). */
export const loopObject = (postId: string) => `loop:${postId}`;

/**
 * The one definition of a post's JSON: its fields in the order of the answer. Its parts are shared with those that
 * write a post without calling it: mediaUrls and loopMetadata (the Stream.io mirror's activity) and viewerFields (a
 * viewer's copy of a cached post, posts/enrich.ts, and its cached JSON, social/feed-routes.ts).
 */
export function toPost(deps: MediaUrl, p: PostRow, author: Author, viewerId: string | null, extras: PostExtras = {}): PostT {
  const time = new Date(p.createdAt).toISOString();
  const avatar = author.avatarKey ? deps.mediaUrl(author.avatarKey) : "";
  return {
    id: p.id,
    actor: `user:${p.userId}`,
    verb: "posted",
    object: loopObject(p.id),
    time,
    created_at: time,
    user_id: p.userId,
    username: author.username,
    user_avatar_url: avatar,
    user: { id: author.id, username: author.username, display_name: author.displayName, avatar_url: avatar },
    status: p.status as PostT["status"],
    // The final URLs are known from the start: they serve once the post is ready (the plugin needs them at once).
    // audio_url and waveform_url are what the plugin reads (Ogg Vorbis, PNG); a post made before those renditions
    // existed carries its MP3 and SVG there until the add-renditions job has made them (src/audio/renditions.ts).
    ...mediaUrls(deps, p),
    ...(extras.peaks ? { peaks: extras.peaks } : {}),
    ...loopMetadata(p),
    like_count: p.likeCount,
    play_count: p.playCount,
    download_count: p.downloadCount,
    comment_count: p.commentCount,
    save_count: p.saveCount,
    repost_count: p.repostCount,
    is_pinned: p.pinOrder !== null,
    pin_order: p.pinOrder ?? 0,
    reaction_counts: extras.reaction_counts ?? {},
    is_a_repost: extras.repost !== undefined,
    ...(extras.repost ? repostFields(deps, p.id, author, avatar, extras.repost) : {}),
    // Last, so that a cached post's JSON is the same up to here for every viewer (social/feed-routes.ts).
    ...viewerFields(p.userId, viewerId, extras),
  };
}

/** The fields of a repost entry (RepostFields): the original's producer and the reposter. */
function repostFields(deps: MediaUrl, postId: string, author: Author, avatar: string, r: RepostOf) {
  const byAvatar = r.by.avatarKey ? deps.mediaUrl(r.by.avatarKey) : "";
  return {
    original_post_id: postId,
    original_user_id: author.id,
    original_username: author.username,
    original_avatar_url: avatar,
    repost_quote: r.quote,
    reposted_by: { id: r.by.id, username: r.by.username, display_name: r.by.displayName, avatar_url: byAvatar },
    reposted_at: new Date(r.at).toISOString(),
  };
}

/** What the loop is, as its owner described it and the pipeline measured it (the same for every viewer). */
export function loopMetadata(p: PostRow) {
  return {
    filename: p.title,
    duration_seconds: p.durationSeconds ?? 0,
    duration_bars: p.durationBars ?? 0,
    bpm: p.bpm ?? 0,
    key: p.key,
    daw: p.daw,
    genres: p.genres ?? [],
    loudness_lufs: p.loudnessLufs ?? 0,
  } satisfies Partial<PostT>;
}

/**
 * The fields that end every post, in this order (VIEWER_FIELDS): the viewer's own (reaction, follow, own post, saved), the
 * author's presence as this viewer may see it, and midi_id (always empty). Neutral without extras.
 */
export function viewerFields(ownerId: string, viewerId: string | null, extras: PostExtras) {
  return {
    user_reaction: extras.user_reaction ?? "",
    is_liked: extras.is_liked ?? false,
    is_following: extras.is_following ?? false,
    is_own_post: viewerId === ownerId,
    is_saved: extras.is_saved ?? false,
    is_reposted: extras.is_reposted ?? false,
    midi_id: "",
    is_online: extras.is_online ?? false,
    is_in_studio: extras.is_in_studio ?? false,
  } satisfies Partial<PostT>;
}

/** The names of viewerFields, in the order they end every post's JSON. */
export const VIEWER_FIELDS = Object.freeze(Object.keys(viewerFields("", null, {}))) as readonly (keyof ReturnType<typeof viewerFields>)[];

// The post's JSON has one definition (toPost): its parts, used on their own by the feeds' cached JSON
// (social/feed-routes.ts), a viewer's copies (posts/enrich.ts) and the Stream.io mirror, agree with it.
import { expect, test } from "bun:test";
import { loopMetadata, loopObject, mediaUrls, Post, postExample, toPost, VIEWER_FIELDS, viewerFields, type PostRow } from "./models.ts";

const deps = { mediaUrl: (key: string) => `https://cdn.example/${key}` };
const row: PostRow = {
  id: "p1",
  userId: "u1",
  title: "Midnight chords",
  status: "ready",
  audioKey: "loops/p1/a.mp3",
  oggKey: "loops/p1/a.ogg",
  waveformKey: "loops/p1/w.svg",
  waveformPngKey: "loops/p1/w.png",
  peaksKey: "loops/p1/p.json",
  durationSeconds: 16,
  durationBars: 8,
  bpm: 120,
  key: "Am",
  daw: "Ableton Live",
  genres: ["lofi"],
  loudnessLufs: -14,
  likeCount: 3,
  playCount: 10,
  downloadCount: 2,
  commentCount: 0,
  createdAt: Date.UTC(2026, 10, 25, 21),
} as PostRow;
const author = { id: "u1", username: "nightbeats", displayName: "Night Beats", avatarKey: null };

test("toPost writes the schema's fields in the schema's order, the per-viewer ones last (VIEWER_FIELDS)", () => {
  const post = toPost(deps, row, author, "viewer", { peaks: [0.5], user_reaction: "🔥", is_liked: true });
  // A repost entry has every key, in order; any other post every key but the repost entry's own (RepostFields).
  const repost = { by: { ...author, id: "u2", username: "friend" }, at: Date.UTC(2026, 10, 26), quote: "" };
  const entry = toPost(deps, row, author, "viewer", { peaks: [0.5], repost });
  expect(Object.keys(entry)).toEqual(Object.keys(Post.properties));
  const onlyOnRepost = Object.keys(entry).filter((k) => !(k in post));
  expect(onlyOnRepost.every((k) => /^(original_|repost_|reposted_)/.test(k)) && onlyOnRepost.length).toBe(7);
  expect(Object.keys(post)).toEqual(Object.keys(Post.properties).filter((k) => !onlyOnRepost.includes(k)));
  expect(entry).toMatchObject({ is_a_repost: true, original_post_id: "p1", original_user_id: "u1", reposted_by: { id: "u2", username: "friend" } });
  expect(post.is_a_repost).toBe(false);
  expect(Object.keys(post).slice(-VIEWER_FIELDS.length)).toEqual([...VIEWER_FIELDS]);
  expect(VIEWER_FIELDS).toEqual([
    "user_reaction",
    "is_liked",
    "is_following",
    "is_own_post",
    "is_saved",
    "is_reposted",
    "midi_id",
    "is_online",
    "is_in_studio",
  ]);
});

test("viewerFields are what toPost gives: neutral without extras, own post by the viewer's id", () => {
  const pick = (p: Record<string, unknown>) => Object.fromEntries(VIEWER_FIELDS.map((f) => [f, p[f]]));
  expect(pick(toPost(deps, row, author, null))).toEqual(viewerFields("u1", null, {}));
  expect(viewerFields("u1", null, {})).toEqual(pick(postExample) as never); // the documented example is a neutral view
  const extras = { user_reaction: "❤️", is_liked: true, is_following: true, is_online: true, is_in_studio: true };
  expect(pick(toPost(deps, row, author, "u1", extras))).toEqual(viewerFields("u1", "u1", extras));
  expect(viewerFields("u1", "u1", extras).is_own_post).toBe(true);
});

test("the loop's fields the Stream.io mirror sends are the post's own", () => {
  const post = toPost(deps, row, author, null) as unknown as Record<string, unknown>;
  const mirrored = { object: loopObject(row.id), ...mediaUrls(deps, row), ...loopMetadata(row) };
  for (const [field, value] of Object.entries(mirrored)) expect([field, post[field]]).toEqual([field, value]);
  expect(Object.keys(mirrored)).toHaveLength(14);
});

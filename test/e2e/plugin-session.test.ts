// The plugin's whole session through a client that speaks exactly as the plugin does (test/support/plugin-client.ts:
// method rewriting, JSON content type everywhere, JUCE's multipart, the models' type-strict parsing, websocketpp's
// WebSocket), against a real listening server, directly and through the relay (`sidechain relay`, src/relay/):
// register, sign in, upload a real WAV, every feed tab, play, recommendation click, react, follow, notifications,
// unfollow, delete, and the WebSocket (follow, new_post, reactions, follower_count_update, presence in_studio).
// Each step names the plugin file whose call it repeats.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/log.ts";
import { startRelay, type Relay } from "../../src/relay/relay.ts";
import { lavfi, signals } from "../support/audio.ts";
import {
  parseFeed,
  parseFeedPost,
  parseNotification,
  parseUser,
  pluginError,
  PluginClient,
  PluginParseError,
  type PluginPost,
} from "../support/plugin-client.ts";
import { eventually, startRealtime, type RealtimeServer } from "../support/realtime.ts";

let s: RealtimeServer;
let relay: Relay;
let dir: string;
let wav: Uint8Array;
let n = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sc-plugin-"));
  // What AudioClient.cpp uploads: 16-bit PCM WAV at the host's rate (encodeAudioToWAV in NetworkClient.cpp).
  wav = readFileSync(await lavfi(join(dir, "loop.wav"), signals.produced(4), ["-c:a", "pcm_s16le"]));
  s = await startRealtime({ PRESENCE_GRACE_MS: "0" });
  relay = await startRelay({ upstream: s.url, port: 0, log: createLogger("error") });
});
afterAll(async () => {
  await relay?.stop();
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A media URL, fetched without auth as the plugin does. The test server's PUBLIC_URL names port 0 (it listens on a
 * free port), so the path is fetched from where it really listens; through the relay too, since the plugin fetches
 * media URLs straight from the community server (src/relay/relay.ts leaves them alone).
 */
async function media(url: string) {
  const u = new URL(url);
  return new Uint8Array(await (await fetch(`${s.url}${u.pathname}${u.search}`)).arrayBuffer());
}

/** Register then sign in as the plugin does (AuthClient.cpp: POST /auth/register, POST /auth/login). */
async function producer(base: string) {
  const c = new PluginClient(base);
  const name = `plug${++n}_${process.pid % 10000}`;
  const reg = await c.post("/api/v1/auth/register", {
    email: `${name}@example.com`,
    username: name,
    password: "correct horse battery staple",
    display_name: name,
  });
  expect(pluginError(reg)).toBe("");
  parseUser(reg.auth.user);
  const login = await c.post("/api/v1/auth/login", { email: `${name}@example.com`, password: "correct horse battery staple" });
  expect(pluginError(login)).toBe("");
  expect(typeof login.auth.token).toBe("string");
  c.token = login.auth.token;
  const me = parseUser(await c.get("/api/v1/users/me"));
  expect(me.username).toBe(name);
  return { c, id: me.id, name };
}

/** Every feed tab the plugin has (FeedClient.cpp), each parsed as the plugin parses it: nothing may be dropped. */
const TABS = [
  "/api/v1/feed/global/enriched",
  "/api/v1/feed/unified",
  "/api/v1/feed/trending",
  "/api/v1/recommendations/for-you",
  "/api/v1/feed/popular",
  "/api/v1/feed/latest",
];

async function session(base: string) {
  const author = await producer(base);
  const fan = await producer(base);

  // The fan follows the author (SocialClient.cpp: POST /social/follow {target_user_id}); the author's plugin gets
  // `follow` with followee_id and follower_count (PluginEditor.cpp handleWebSocketMessage).
  const fanWs = await fan.c.connect();
  let authorWs = await author.c.connect();
  const followed = await fan.c.post("/api/v1/social/follow", { target_user_id: author.id });
  expect(pluginError(followed)).toBe("");
  expect(followed).toMatchObject({ is_following: true, follower_count: 1 });
  expect(await authorWs.next("follow")).toMatchObject({ payload: { followee_id: author.id, follower_id: fan.id, follower_count: 1 } });

  // The producer closes the DAW and opens it again: the plugin's WebSocket reconnects, and the fan is told the
  // author is in the studio (the plugin itself never says so).
  await authorWs.close();
  await eventually(() => s.running.hub.connectionsOf(author.id) === 0, 5000, "the author's close");
  expect(await fanWs.next("presence")).toMatchObject({ user_id: author.id, is_online: false });
  authorWs = await author.c.connect();
  const presence = await fanWs.next("presence");
  expect(presence).toMatchObject({ user_id: author.id, is_online: true, is_in_studio: true, status: "in_studio" });
  const seen = await fan.c.get(`/api/v1/users/${author.id}/presence`);
  expect(seen).toMatchObject({ is_in_studio: true, status: "in_studio" });
  // The plugin's heartbeat is answered.
  authorWs.heartbeat();
  expect((await authorWs.next("pong")).type).toBe("pong");

  // Upload (AudioClient.cpp uploadAudioWithMetadata: field audio_file, the metadata as text fields).
  // juce::Uuid::toString(): 32 hex digits. The key as KeyDetector names it ("A minor"); uploadAudio's fallback is
  // "C major". The post carries the short form.
  const recordingId = crypto.randomUUID().replace(/-/g, "");
  const up = await author.c.upload("/api/v1/audio/upload", "audio_file", wav, `Night Drive-${recordingId.slice(0, 8)}.wav`, "audio/wav", {
    recording_id: recordingId,
    filename: "Night Drive",
    bpm: "120.0",
    key: "A minor",
    genre: "lofi",
    duration_seconds: "4.00",
    sample_rate: "44100",
    channels: "2",
    daw: "Ableton Live",
    duration_bars: "2",
  });
  expect({ error: pluginError(up), fields: up?.fields }).toEqual({ error: "", fields: undefined });
  expect(typeof up.audio_url).toBe("string");
  expect(up.audio_url).not.toBe("");
  const postId: string = up.id || up.post_id;
  expect(up.key).toBe("Am"); // KeyDetector's "A minor", in the short form posts carry
  expect(typeof postId).toBe("string");

  // The fan's plugin hears of the new loop (PluginEditor.cpp handleWebSocketMessage: new_post's payload).
  const np = await fanWs.next("new_post", 30_000);
  const announced = parseFeedPost(np.payload.post);
  expect(announced.id).toBe(postId);

  // Every tab, parsed type-strictly: no post dropped; the new loop is in the global and following tabs.
  const tabs: Record<string, PluginPost[]> = {};
  for (const tab of TABS) {
    const body = await fan.c.get(`${tab}?limit=20&offset=0`);
    expect({ tab, error: pluginError(body) }).toEqual({ tab, error: "" });
    const feed = parseFeed(body);
    expect({ tab, dropped: feed.dropped }).toEqual({ tab, dropped: [] });
    tabs[tab] = feed.posts;
  }
  const post = tabs["/api/v1/feed/global/enriched"]!.find((p) => p.id === postId)!;
  expect(post).toMatchObject({ status: "ready", userId: author.id, isFollowing: true, isOwnPost: false, isInStudio: true, daw: "Ableton Live", bpm: 120 });
  expect(tabs["/api/v1/feed/unified"]!.some((p) => p.id === postId)).toBe(true);
  expect(tabs["/api/v1/feed/latest"]!.some((p) => p.id === postId)).toBe(true);

  // Play: HttpAudioPlayer.cpp loads audio_url with JUCE's basic formats (Ogg Vorbis decodes everywhere);
  // WaveformImageView.cpp loads waveform_url with JUCE's image loaders (PNG).
  const audio = await media(post.audioUrl);
  expect(new TextDecoder().decode(audio.slice(0, 4))).toBe("OggS");
  const png = await media(post.waveformUrl);
  expect([...png.slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  const played = await fan.c.post("/api/v1/social/play", { activity_id: postId });
  expect(pluginError(played)).toBe("");
  expect(played.play_count).toBe(1);
  // FeedClient.cpp trackRecommendationClick, fired on every play.
  const click = await fan.c.post("/api/v1/recommendations/click", { post_id: postId, source: "feed", position: 0, completed: false });
  expect(pluginError(click)).toBe("");

  // React (FeedClient.cpp likePost: POST /feed/like {activity_id, emoji}); the author's plugin is told.
  const liked = await fan.c.post("/api/v1/feed/like", { activity_id: postId, emoji: "🔥" });
  expect(pluginError(liked)).toBe("");
  expect(liked).toMatchObject({ like_count: 1, is_liked: true });
  expect(await authorWs.next("post_liked")).toMatchObject({ payload: { post_id: postId, like_count: 1 } });

  // Notifications (NotificationClient.cpp: GET /notifications, reads unseen, unread and groups[]).
  const notes = await author.c.get("/api/v1/notifications?limit=20&offset=0");
  expect(pluginError(notes)).toBe("");
  expect(Number.isInteger(notes.unseen) && Number.isInteger(notes.unread)).toBe(true);
  expect(Array.isArray(notes.groups)).toBe(true);
  const groups = (notes.groups as unknown[]).map(parseNotification);
  // The follow and the reaction, each by the fan.
  expect(groups.length).toBeGreaterThanOrEqual(2);
  for (const g of groups) expect(g.actorIds).toContain(fan.id);
  // Marking read is the plugin's empty-body POST, so it arrives as GET.
  expect(pluginError(await author.c.post("/api/v1/notifications/read"))).toBe("");

  // Unfollow: the author's plugin gets follower_count_update with the new count.
  expect(pluginError(await fan.c.post("/api/v1/social/unfollow", { target_user_id: author.id }))).toBe("");
  expect(await authorWs.next("follower_count_update")).toMatchObject({ payload: { followee_id: author.id, follower_count: 0 } });

  // Delete (FeedClient.cpp deletePost: DELETE without a body, so a GET by its owner): it really deletes.
  const del = await author.c.del(`/api/v1/posts/${postId}`);
  expect(del).toMatchObject({ deleted: true, id: postId });
  expect(pluginError(await author.c.get(`/api/v1/posts/${postId}`))).toBe("post_not_found");
  expect(parseFeed(await fan.c.get("/api/v1/feed/global/enriched?limit=20&offset=0")).posts.some((p) => p.id === postId)).toBe(false);

  // The transport was the plugin's: only GET and POST, JSON content type on all but the upload.
  for (const c of [author.c, fan.c]) {
    for (const r of c.sent) {
      expect(["GET", "POST"]).toContain(r.method);
      if (r.path !== "/api/v1/audio/upload") expect(r.headers["Content-Type"]).toBe("application/json");
    }
  }
  await Promise.all([authorWs.close(), fanWs.close()]);
}

describe("the plugin's whole session", () => {
  test("directly against the server", () => session(s.url), 120_000);
  test("through the relay", () => session(relay.urls[0]!), 120_000);
});

describe("the plugin-like client parses as the plugin does", () => {
  const post = {
    id: "p1",
    actor: "user:u1",
    audio_url: "http://x/a.ogg",
    like_count: 2,
    is_liked: false,
    genres: ["lofi", 3],
    reaction_counts: { "🔥": 2, "❤️": "1" },
  };
  test("a post with the right types parses; non-string genres and non-integer reaction counts are skipped", () => {
    expect(parseFeedPost(post)).toMatchObject({ id: "p1", userId: "u1", likeCount: 2, genres: ["lofi"], reactionCounts: { "🔥": 2 } });
    // nlohmann's get<int> takes a boolean or a float (truncated); null or missing is the default.
    expect(parseFeedPost({ ...post, like_count: true, bpm: 120.7, play_count: null })).toMatchObject({ likeCount: 1, bpm: 120, playCount: 0 });
  });
  test("one field of the wrong type loses the whole post; so does a post without id or audio_url", () => {
    for (const bad of [
      { like_count: "2" },
      { is_liked: 0 },
      { username: null, id: 5 },
      { daw: 1 },
      { is_in_studio: "true" },
      { genre: 1, genres: undefined },
    ]) {
      expect(() => parseFeedPost({ ...post, ...bad })).toThrow(PluginParseError);
    }
    expect(() => parseFeedPost({ ...post, audio_url: "" })).toThrow(/isValid/);
    expect(() => parseFeedPost([post])).toThrow(/not an object/);
    const feed = parseFeed({ posts: [post, { ...post, bpm: "120" }], meta: { has_more: true } });
    expect({ kept: feed.posts.length, dropped: feed.dropped.length, hasMore: feed.hasMore }).toEqual({ kept: 1, dropped: 1, hasMore: true });
    expect(parseFeed({ activities: [post], posts: [] }).posts.length).toBe(1);
    expect(parseFeed("nope").posts).toEqual([]);
  });
  test("users need a string id and username; timestamps and known social links must be strings", () => {
    const user = { id: "u1", username: "neo", follower_count: 1, is_online: false, last_active: null, social_links: { instagram: "x", custom: 1 } };
    expect(parseUser(user)).toMatchObject({ id: "u1", username: "neo", followerCount: 1, lastActive: "" });
    for (const bad of [
      { id: undefined },
      { username: 1 },
      { follower_count: "1" },
      { is_following: null, follows_you: "no" },
      { created_at: 0 },
      { social_links: { twitter: null } },
    ]) {
      expect(() => parseUser({ ...user, ...bad })).toThrow(PluginParseError);
    }
  });
  test("notifications need id, verb and at least one actor id; actor arrays hold strings only", () => {
    const n = {
      id: "n1",
      verb: "follow",
      actor_ids: ["u1"],
      actor_usernames: ["neo"],
      actor_avatar_urls: [""],
      target_id: "",
      is_read: false,
      is_seen: false,
      created_at: "2026-01-01T00:00:00.000Z",
    };
    expect(parseNotification(n)).toMatchObject({ id: "n1", verb: "follow", actorCount: 1 });
    for (const bad of [
      { actor_ids: [] },
      { actor_ids: [1] },
      { actor_usernames: ["a", null] },
      { verb: undefined },
      { is_read: "false" },
      { target_id: null, group_id: 2 },
      { updated_at: 5 },
    ]) {
      expect(() => parseNotification({ ...n, ...bad })).toThrow(PluginParseError);
    }
    expect(pluginError({ error: "" })).toBe("");
    expect(pluginError({ error: { message: "x" } })).toBe("");
    expect(pluginError({ error: "nope" })).toBe("nope");
  });
  test("requests: PUT and DELETE never leave as such, empty POSTs become GETs, uploads are JUCE's multipart", async () => {
    const c = new PluginClient(s.url);
    c.token = "t";
    await c.put("/api/v1/users/me", { bio: "x" });
    await c.del("/api/v1/posts/nope");
    await c.post("/api/v1/notifications/read");
    await c.upload("/api/v1/audio/upload", "audio_file", new Uint8Array([1, 2]), "a.wav", "audio/wav", { key: "Am", bpm: "120.0", daw: "Live" });
    expect(c.sent.map((r) => r.method)).toEqual(["POST", "GET", "GET", "POST"]);
    expect(c.sent.slice(0, 3).every((r) => r.headers["Content-Type"] === "application/json" && r.headers.Authorization === "Bearer t")).toBe(true);
    const text = new TextDecoder().decode(c.sent[3]!.body!);
    expect([...text.matchAll(/form-data; name="([^"]+)"/g)].map((m) => m[1])).toEqual(["bpm", "daw", "key", "audio_file"]);
    expect(text).toMatch(/filename="sidechain_upload_\d+_a\.wav"\r\nContent-Type: audio\/wav\r\nContent-Transfer-Encoding: binary\r\n\r\n/);
    expect(c.sent[3]!.headers["Content-Type"]).toMatch(/^multipart\/form-data; boundary=[0-9a-f]+$/);
  });
});

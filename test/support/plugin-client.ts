// A test client that speaks exactly as the Sidechain plugin does (public repository zfogg/sidechain, folder plugin/;
// every rule below names the plugin file it comes from), so a scenario through it sees what the real plugin sees:
//
// - Method rewriting (plugin/src/network/NetworkClient.cpp makeRequestWithRetry, JUCE's URL::createInputStream):
//   the plugin only ever sets POST data, never a verb. "POST", "PUT" and "DELETE" with a body are sent as POST;
//   a DELETE without one, and a POST with an empty body, go out as GET. So PUT and DELETE never arrive.
// - Headers (makeRequestWithRetry): `Content-Type: application/json` on every request, GETs included, and
//   `Authorization: Bearer <token>` when signed in. Bodies are JSON::toString, compact.
// - Status codes are not what decides (requestResultToOutcome): a body with a non-empty string `error` is a
//   failure, anything else a success; the body is parsed with JUCE's JSON parser (nothing when it is not JSON).
// - Uploads (uploadMultipartData, with JUCE's URL::createHeadersAndPostData): only `Authorization` of its own;
//   JUCE writes `Content-Type: multipart/form-data; boundary=<hex of a random int64>`, the text fields first, in
//   the order of the std::map that holds them (byte-wise alphabetical), then the file part, named after the temp
//   file the plugin writes (`sidechain_upload_<n>_<file name>`) and carrying `Content-Transfer-Encoding: binary`.
// - The models' parse rules (plugin/src/util/json/JsonValidation.h, nlohmann::json): a field that is missing or
//   null takes its default; a present field of the wrong type throws, and the caller drops the whole object
//   (FeedClient.cpp parseFeedResponse logs "Failed to parse post" and skips it). nlohmann's get<int>/get<float>
//   take any number or a boolean; get<bool> only a boolean; get<std::string> only a string.
// - The WebSocket (plugin/src/network/WebSocketClient.cpp): websocketpp with its default User-Agent
//   `WebSocket++/<version>` (websocketpp/version.hpp), no Origin, the token as `?token=`, `heartbeat` frames.
//
// Hand-written: no package speaks like the plugin; this is what the server must survive.
import { WsClient } from "./ws.ts";

export class PluginParseError extends Error {}

type Json = unknown;
const isObject = (j: Json): j is Record<string, Json> => typeof j === "object" && j !== null && !Array.isArray(j);
const absent = (j: Record<string, Json>, k: string) => !(k in j) || j[k] === null;
const fail = (model: string, field: string, v: Json, want: string): never => {
  throw new PluginParseError(
    `${model}.${field}: type must be ${want}, but is ${v === null ? "null" : Array.isArray(v) ? "array" : typeof v} (${JSON.stringify(v)?.slice(0, 80)})`,
  );
};

/** JSON_OPTIONAL_STRING / JSON_REQUIRE_STRING (JsonValidation.h): nlohmann get<std::string>() takes strings only. */
function str(model: string, j: Record<string, Json>, k: string, required = false): string {
  if (!(k in j)) return required ? fail(model, k, undefined, "string (required field is missing)") : "";
  if (j[k] === null && !required) return "";
  return typeof j[k] === "string" ? (j[k] as string) : fail(model, k, j[k], "string");
}
/** JSON_OPTIONAL on an int or float field: nlohmann's arithmetic from_json takes a number or a boolean. */
function num(model: string, j: Record<string, Json>, k: string, int: boolean): number {
  if (absent(j, k)) return 0;
  const v = j[k];
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v !== "number") return fail(model, k, v, "number");
  return int ? Math.trunc(v) : v;
}
/** JSON_OPTIONAL on a bool field: nlohmann get<bool>() takes booleans only. */
function bool(model: string, j: Record<string, Json>, k: string): boolean {
  if (absent(j, k)) return false;
  return typeof j[k] === "boolean" ? (j[k] as boolean) : fail(model, k, j[k], "boolean");
}
/** get<std::string>() on a timestamp that is present and not null (User.h, Notification.h). */
const time = (model: string, j: Record<string, Json>, k: string) => (absent(j, k) ? "" : str(model, j, k));

export type PluginPost = {
  id: string;
  actor: string;
  userId: string;
  username: string;
  audioUrl: string;
  waveformUrl: string;
  filename: string;
  durationSeconds: number;
  bpm: number;
  key: string;
  daw: string;
  genres: string[];
  likeCount: number;
  playCount: number;
  reactionCounts: Record<string, number>;
  userReaction: string;
  isLiked: boolean;
  isFollowing: boolean;
  isOwnPost: boolean;
  isOnline: boolean;
  isInStudio: boolean;
  status: "ready" | "processing" | "failed" | "unknown";
};

/**
 * FeedPost from_json (plugin/src/models/FeedPost.cpp). Throws on a field of the wrong type; also throws when the
 * post is not valid (FeedPost::isValid: an id and an audio_url), which parseFeedResponse drops as well.
 */
export function parseFeedPost(j: Json): PluginPost {
  const M = "FeedPost";
  if (!isObject(j)) throw new PluginParseError(`${M}: not an object`);
  for (const k of ["foreign_id", "verb", "object", "waveform", "midi_pattern_id", "midi_id", "midi_filename", "project_file_id", "project_file_daw"])
    str(M, j, k);
  for (const k of ["remix_of_post_id", "remix_of_story_id", "remix_type", "sound_id", "sound_name", "comment_audience", "original_post_id", "original_user_id"])
    str(M, j, k);
  for (const k of ["original_username", "original_avatar_url", "original_filename", "repost_quote", "recommendation_reason", "source"]) str(M, j, k);
  for (const k of [
    "duration_bars",
    "remix_chain_depth",
    "remix_count",
    "sound_usage_count",
    "comment_count",
    "save_count",
    "repost_count",
    "download_count",
    "pin_order",
  ])
    num(M, j, k, true);
  for (const k of ["has_midi", "has_project_file", "is_saved", "is_reposted", "is_pinned", "is_a_repost", "is_recommended"]) bool(M, j, k);
  num(M, j, "score", false);
  // "time" is read inside a try/catch: a wrong type there is swallowed, not fatal.
  // "genres": non-strings are skipped; a "genre" (only read without a "genres" array) must be a string.
  const genres = Array.isArray(j.genres)
    ? (j.genres.filter((g) => typeof g === "string") as string[])
    : "genre" in j
      ? [str(M, j, "genre")].filter(Boolean)
      : [];
  // reaction_counts: only integer values are kept.
  const reactionCounts: Record<string, number> = {};
  if (isObject(j.reaction_counts)) for (const [e, n] of Object.entries(j.reaction_counts)) if (Number.isInteger(n)) reactionCounts[e] = n as number;
  const actor = str(M, j, "actor");
  const status = typeof j.status === "string" ? j.status.toLowerCase() : "unknown";
  const post: PluginPost = {
    id: str(M, j, "id"),
    actor,
    userId: "user_id" in j ? str(M, j, "user_id") : actor.replace(/^(SU:)?user:/, ""),
    username: str(M, j, "username"),
    audioUrl: str(M, j, "audio_url"),
    waveformUrl: str(M, j, "waveform_url"),
    filename: str(M, j, "filename"),
    durationSeconds: num(M, j, "duration_seconds", false),
    bpm: num(M, j, "bpm", true),
    key: str(M, j, "key"),
    daw: str(M, j, "daw"),
    genres,
    likeCount: num(M, j, "like_count", true),
    playCount: num(M, j, "play_count", true),
    reactionCounts,
    userReaction: str(M, j, "user_reaction"),
    isLiked: bool(M, j, "is_liked"),
    isFollowing: bool(M, j, "is_following"),
    isOwnPost: bool(M, j, "is_own_post"),
    isOnline: bool(M, j, "is_online"),
    isInStudio: bool(M, j, "is_in_studio"),
    status: status === "ready" || status === "processing" || status === "failed" ? status : "unknown",
  };
  str(M, j, "user_avatar_url");
  if (!post.id || !post.audioUrl)
    throw new PluginParseError(`${M}: not valid (FeedPost::isValid needs id and audio_url): ${JSON.stringify({ id: post.id, audio_url: post.audioUrl })}`);
  return post;
}

export type PluginUser = {
  id: string;
  username: string;
  displayName: string;
  avatarUrl: string;
  daw: string;
  followerCount: number;
  followingCount: number;
  postCount: number;
  isOnline: boolean;
  isInStudio: boolean;
  isFollowing: boolean;
  followsYou: boolean;
  createdAt: string;
  lastActive: string;
};

/** User from_json (plugin/src/models/User.h): id and username required; social_links' known keys must be strings. */
export function parseUser(j: Json): PluginUser {
  const M = "User";
  if (!isObject(j)) throw new PluginParseError(`${M}: not an object`);
  for (const k of ["bio", "banner_url", "location", "genre", "website"]) str(M, j, k);
  num(M, j, "like_count", true);
  for (const k of ["is_private", "is_verified", "is_blocked", "is_muted"]) bool(M, j, k);
  if (isObject(j.social_links)) {
    // SocialLinks from_json: j[key].get<std::string>() for the known platforms (throws even on null); others skipped.
    for (const k of ["instagram", "twitter", "youtube", "soundcloud", "spotify", "bandcamp"]) {
      if (k in j.social_links && typeof j.social_links[k] !== "string") fail(M, `social_links.${k}`, j.social_links[k], "string");
    }
  }
  return {
    id: str(M, j, "id", true),
    username: str(M, j, "username", true),
    displayName: str(M, j, "display_name"),
    avatarUrl: str(M, j, "avatar_url"),
    daw: str(M, j, "daw"),
    followerCount: num(M, j, "follower_count", true),
    followingCount: num(M, j, "following_count", true),
    postCount: num(M, j, "post_count", true),
    isOnline: bool(M, j, "is_online"),
    isInStudio: bool(M, j, "is_in_studio"),
    isFollowing: bool(M, j, "is_following"),
    followsYou: bool(M, j, "follows_you"),
    createdAt: time(M, j, "created_at"),
    lastActive: time(M, j, "last_active"),
  };
}

export type PluginNotification = {
  id: string;
  verb: string;
  actorIds: string[];
  actorUsernames: string[];
  actorAvatarUrls: string[];
  targetId: string;
  isRead: boolean;
  isSeen: boolean;
  actorCount: number;
  createdAt: string;
};

/** get<std::vector<std::string>>() of an array: every element must be a string. */
function strings(model: string, j: Record<string, Json>, k: string): string[] {
  if (!Array.isArray(j[k])) return [];
  const arr = j[k] as Json[];
  for (const [i, v] of arr.entries()) if (typeof v !== "string") fail(model, `${k}[${i}]`, v, "string");
  return arr as string[];
}

/**
 * Notification from_json (plugin/src/models/Notification.h): id and verb required; actor arrays of strings. Also
 * throws when the notification is not valid (Notification::isValid: id, verb and at least one actor id), which the
 * plugin cannot show.
 */
export function parseNotification(j: Json): PluginNotification {
  const M = "Notification";
  if (!isObject(j)) throw new PluginParseError(`${M}: not an object`);
  for (const k of ["target_type", "target_preview", "content_text", "group_id"]) str(M, j, k);
  const actorIds = strings(M, j, "actor_ids");
  const actorCount = num(M, j, "actor_count", true);
  const n: PluginNotification = {
    id: str(M, j, "id", true),
    verb: str(M, j, "verb", true),
    actorIds,
    actorUsernames: strings(M, j, "actor_usernames"),
    actorAvatarUrls: strings(M, j, "actor_avatar_urls"),
    targetId: str(M, j, "target_id"),
    isRead: bool(M, j, "is_read"),
    isSeen: bool(M, j, "is_seen"),
    actorCount: actorCount || actorIds.length,
    createdAt: time(M, j, "created_at"),
  };
  time(M, j, "updated_at");
  if (!n.id || !n.verb || n.actorIds.length === 0)
    throw new PluginParseError(`${M}: not valid (needs id, verb and actor_ids): ${JSON.stringify(j).slice(0, 200)}`);
  return n;
}

/** parseFeedResponse (plugin/src/network/api/FeedClient.cpp): `activities`, else `posts`; bad posts are dropped. */
export function parseFeed(body: Json): { posts: PluginPost[]; dropped: string[]; hasMore: boolean } {
  const out = { posts: [] as PluginPost[], dropped: [] as string[], hasMore: false };
  if (!isObject(body)) return out;
  const list = Array.isArray(body.activities) ? body.activities : Array.isArray(body.posts) ? body.posts : [];
  out.hasMore = isObject(body.meta) && body.meta.has_more === true;
  for (const p of list) {
    try {
      out.posts.push(parseFeedPost(p));
    } catch (err) {
      out.dropped.push(String((err as Error).message));
    }
  }
  return out;
}

/** What requestResultToOutcome (NetworkClient.cpp) calls a failure: a non-empty string `error` in the body. */
export const pluginError = (body: Json): string => (isObject(body) && typeof body.error === "string" && body.error !== "" ? body.error : "");

export type Sent = { method: string; path: string; headers: Record<string, string>; body: Uint8Array | null };

export class PluginClient {
  token = "";
  /** Every request as it left, for tests of the transport itself. */
  readonly sent: Sent[] = [];

  constructor(readonly baseUrl: string) {}

  /** makeRequestWithRetry: what the plugin's get/post/put/del send, and the parsed body (undefined if not JSON). */
  async request(method: "GET" | "POST" | "PUT" | "DELETE", endpoint: string, data?: Json): Promise<any> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    // POST data is set only for POST/PUT/DELETE with a body; JUCE sends POST exactly when there is POST data.
    const body = method !== "GET" && data !== undefined ? new TextEncoder().encode(JSON.stringify(data)) : null;
    return this.send(body && body.byteLength > 0 ? "POST" : "GET", endpoint, headers, body);
  }

  get = (endpoint: string) => this.request("GET", endpoint);
  post = (endpoint: string, data?: Json) => this.request("POST", endpoint, data);
  put = (endpoint: string, data?: Json) => this.request("PUT", endpoint, data);
  del = (endpoint: string) => this.request("DELETE", endpoint);

  /** uploadMultipartData (NetworkClient.cpp) with JUCE's multipart encoding; `fields` is the plugin's std::map. */
  async upload(endpoint: string, fieldName: string, file: Uint8Array, fileName: string, mimeType: string, fields: Record<string, string>): Promise<any> {
    // String::toHexString of Random::nextInt64(): up to 16 hex digits.
    const boundary =
      Buffer.from(crypto.getRandomValues(new Uint8Array(8)))
        .toString("hex")
        .replace(/^0+/, "") || "0";
    const enc = new TextEncoder();
    let head = `--${boundary}`;
    // std::map<juce::String, ...> iterates in key order (juce::String compares code points).
    for (const name of Object.keys(fields).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      head += `\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${fields[name]}\r\n--${boundary}`;
    }
    const tempName = `sidechain_upload_${Math.floor(Math.random() * 2 ** 53)}_${fileName}`;
    head += `\r\nContent-Disposition: form-data; name="${fieldName}"; filename="${tempName}"\r\n`;
    if (mimeType) head += `Content-Type: ${mimeType}\r\n`;
    head += "Content-Transfer-Encoding: binary\r\n\r\n";
    const tail = `\r\n--${boundary}--\r\n`;
    const body = new Uint8Array([...enc.encode(head), ...file, ...enc.encode(tail)]);
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, "Content-Type": `multipart/form-data; boundary=${boundary}` };
    return this.send("POST", endpoint, headers, body);
  }

  private async send(method: "GET" | "POST", endpoint: string, headers: Record<string, string>, body: Uint8Array | null) {
    this.sent.push({ method, path: endpoint, headers, body });
    const res = await fetch(`${this.baseUrl}${endpoint}`, { method, headers, body: body as BodyInit | null, redirect: "manual" });
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** The plugin's WebSocket: websocketpp's User-Agent, no Origin, ?token= (WebSocketClient::buildUri). */
  connect(): Promise<WsClient> {
    return WsClient.connect(this.baseUrl, this.token, "/api/v1/ws", { "User-Agent": "WebSocket++/0.8.2" });
  }
}

// Exact JSON types of a post (docs/plugin-contract.md "Posts"). The plugin's JSON parser drops a whole post on one wrong
// type, so every post a feed scenario sees goes through here: the exact key set (peaks optional), strings are
// strings, counts are integers, booleans are booleans, timestamps are ISO-8601, media URLs are absolute.

export const POST_KEYS = [
  "id",
  "actor",
  "verb",
  "object",
  "time",
  "created_at",
  "user_id",
  "username",
  "user_avatar_url",
  "user",
  "status",
  "audio_url",
  "mp3_url",
  "waveform_url",
  "waveform_svg_url",
  "peaks_url",
  "filename",
  "duration_seconds",
  "duration_bars",
  "bpm",
  "key",
  "daw",
  "genres",
  "loudness_lufs",
  "like_count",
  "play_count",
  "download_count",
  "comment_count",
  "save_count",
  "repost_count",
  "is_pinned",
  "pin_order",
  "reaction_counts",
  "is_a_repost",
  "user_reaction",
  "is_liked",
  "is_following",
  "is_own_post",
  "is_saved",
  "is_reposted",
  "midi_id",
  "is_online",
  "is_in_studio",
] as const;

/** The keys only a repost entry of the timeline has (the plugin reads original_post_id's presence as "a repost"). */
export const REPOST_KEYS = [
  "original_post_id",
  "original_user_id",
  "original_username",
  "original_avatar_url",
  "repost_quote",
  "reposted_by",
  "reposted_at",
] as const;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const absoluteUrl = (v: unknown) => typeof v === "string" && /^https?:\/\/[^/\s]+\/\S+$/.test(v);

/** Every type problem of `p` (empty when it is right), so one failure names every field at once. */
export function postTypeProblems(p: unknown): string[] {
  if (!isObject(p)) return [`not an object: ${JSON.stringify(p)}`];
  const problems: string[] = [];
  const keys = Object.keys(p)
    .filter((k) => k !== "peaks")
    .sort();
  const expected = [...POST_KEYS, ...(p.is_a_repost === true ? REPOST_KEYS : [])].sort();
  if (JSON.stringify(keys) !== JSON.stringify(expected)) problems.push(`keys ${JSON.stringify(keys)} ≠ ${JSON.stringify(expected)}`);
  for (const k of ["id", "actor", "object", "user_id", "username", "user_avatar_url", "filename", "key", "daw", "user_reaction", "midi_id"]) {
    if (typeof p[k] !== "string") problems.push(`${k} = ${JSON.stringify(p[k])} is not a string`);
  }
  if (p.verb !== "posted") problems.push(`verb = ${JSON.stringify(p.verb)}`);
  if (p.actor !== `user:${p.user_id}`) problems.push(`actor = ${JSON.stringify(p.actor)} is not user:<user_id>`);
  if (p.object !== `loop:${p.id}`) problems.push(`object = ${JSON.stringify(p.object)} is not loop:<id>`);
  if (p.midi_id !== "") problems.push(`midi_id = ${JSON.stringify(p.midi_id)} is not ""`);
  for (const k of ["time", "created_at"])
    if (!(typeof p[k] === "string" && ISO.test(p[k] as string) && !Number.isNaN(Date.parse(p[k] as string))))
      problems.push(`${k} = ${JSON.stringify(p[k])} is not ISO-8601`);
  if (!["processing", "ready", "failed"].includes(p.status as string)) problems.push(`status = ${JSON.stringify(p.status)}`);
  for (const k of ["audio_url", "mp3_url", "waveform_url", "waveform_svg_url", "peaks_url"])
    if (!absoluteUrl(p[k])) problems.push(`${k} = ${JSON.stringify(p[k])} is not an absolute URL`);
  // What each URL holds, by its key's extension (the key decides the served type): the plugin plays audio_url
  // (Ogg Vorbis; the MP3 on a post that has no Ogg yet) and decodes waveform_url (PNG; the SVG until it has one).
  const ext = (k: string) => (typeof p[k] === "string" ? /\.(\w+)$/.exec(p[k] as string)?.[1] : undefined);
  if (!(ext("audio_url") === "ogg" || (ext("audio_url") === "mp3" && p.audio_url === p.mp3_url)))
    problems.push(`audio_url = ${JSON.stringify(p.audio_url)} is neither an .ogg nor the MP3`);
  if (ext("mp3_url") !== "mp3") problems.push(`mp3_url = ${JSON.stringify(p.mp3_url)} is not an .mp3`);
  if (!(ext("waveform_url") === "png" || (ext("waveform_url") === "svg" && p.waveform_url === p.waveform_svg_url)))
    problems.push(`waveform_url = ${JSON.stringify(p.waveform_url)} is neither a .png nor the SVG`);
  if (ext("waveform_svg_url") !== "svg") problems.push(`waveform_svg_url = ${JSON.stringify(p.waveform_svg_url)} is not an .svg`);
  if (ext("peaks_url") !== "json") problems.push(`peaks_url = ${JSON.stringify(p.peaks_url)} is not a .json`);
  if (!(p.user_avatar_url === "" || absoluteUrl(p.user_avatar_url))) problems.push(`user_avatar_url = ${JSON.stringify(p.user_avatar_url)}`);
  for (const k of ["duration_seconds", "bpm", "loudness_lufs"])
    if (typeof p[k] !== "number" || !Number.isFinite(p[k])) problems.push(`${k} = ${JSON.stringify(p[k])} is not a number`);
  for (const k of ["duration_bars", "like_count", "play_count", "download_count", "comment_count", "save_count", "repost_count", "pin_order"]) {
    if (!Number.isInteger(p[k]) || (p[k] as number) < 0) problems.push(`${k} = ${JSON.stringify(p[k])} is not a non-negative integer`);
  }
  for (const k of ["is_liked", "is_following", "is_own_post", "is_saved", "is_reposted", "is_pinned", "is_a_repost", "is_online", "is_in_studio"])
    if (typeof p[k] !== "boolean") problems.push(`${k} = ${JSON.stringify(p[k])} is not a boolean`);
  if (!Array.isArray(p.genres) || !p.genres.every((g) => typeof g === "string"))
    problems.push(`genres = ${JSON.stringify(p.genres)} is not an array of strings`);
  if (!isObject(p.reaction_counts)) problems.push(`reaction_counts = ${JSON.stringify(p.reaction_counts)} is not an object`);
  else
    for (const [e, n] of Object.entries(p.reaction_counts))
      if (!Number.isInteger(n) || (n as number) < 1) problems.push(`reaction_counts[${e}] = ${JSON.stringify(n)}`);
  if (p.is_liked !== (p.user_reaction !== "")) problems.push(`is_liked ${p.is_liked} disagrees with user_reaction ${JSON.stringify(p.user_reaction)}`);
  const u = p.user;
  if (!isObject(u)) problems.push(`user = ${JSON.stringify(u)} is not an object`);
  else {
    if (JSON.stringify(Object.keys(u).sort()) !== JSON.stringify(["avatar_url", "display_name", "id", "username"]))
      problems.push(`user keys ${JSON.stringify(Object.keys(u))}`);
    for (const k of ["id", "username", "display_name", "avatar_url"])
      if (typeof u[k] !== "string") problems.push(`user.${k} = ${JSON.stringify(u[k])} is not a string`);
    if (u.id !== p.user_id || u.username !== p.username || u.avatar_url !== p.user_avatar_url)
      problems.push("user disagrees with user_id/username/user_avatar_url");
  }
  if (p.is_a_repost === true) {
    for (const k of ["original_post_id", "original_user_id", "original_username", "original_avatar_url", "repost_quote", "reposted_at"])
      if (typeof p[k] !== "string") problems.push(`${k} = ${JSON.stringify(p[k])} is not a string`);
    if (p.original_post_id !== p.id || p.original_user_id !== p.user_id || p.original_username !== p.username)
      problems.push("original_* disagree with the loop's id/user_id/username");
    const by = p.reposted_by;
    if (!isObject(by) || ["id", "username", "display_name", "avatar_url"].some((k) => typeof by[k] !== "string"))
      problems.push(`reposted_by = ${JSON.stringify(by)} is not a user`);
  }
  if ("peaks" in p && !(Array.isArray(p.peaks) && p.peaks.every((x) => typeof x === "number" && x >= 0 && x <= 1)))
    problems.push("peaks is not an array of numbers 0..1");
  return problems;
}

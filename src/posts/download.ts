// "Save to DAW folder" (docs/plugin-contract.md "Posts"): the plugin's NetworkClient::getPostDownloadInfo
// (src/network/api/DownloadClient.cpp) asks /posts/{id}/download for {download_url, filename, metadata}, then
// fetches download_url without auth headers and writes it under `filename` in the DAW's folder.
//
// What is downloaded: a WAV rendered by ffmpeg from the producer's original upload, not from the delivered MP3 and
// not the original file itself. The original is the best source (decoding the MP3 would hand the DAW lossy audio
// with the loudness normalisation baked in), and a WAV original is copied sample for sample (`-c:a copy`); FLAC
// and AIFF become 24-bit PCM WAV (lossless), MP3 and Ogg are decoded once. Rendering rather than handing out the
// original drops every metadata chunk of the producer's export (BWF/INFO chunks can carry project paths and
// names) and gives every DAW the one format they all read. The WAV is cached in storage next to the post's other
// media (deleted with it), under a key derived from the original's random key, so it is exactly as unguessable.
import { eq, sql } from "drizzle-orm";
import { join } from "node:path";
import { posts } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { PROTOCOL_WHITELIST } from "../audio/plan.ts";
import { findVisiblePost, type PostRow } from "./service.ts";

export type DownloadInfo = {
  download_url: string;
  filename: string;
  metadata: {
    post_id: string;
    title: string;
    producer: string;
    bpm: number;
    key: string;
    duration_seconds: number;
    duration_bars: number;
    genres: string[];
    daw: string;
    format: "wav";
  };
};

/** `loops/<id>/<hex>-original.flac` → `loops/<id>/<hex>-download.wav`. */
export function downloadKeyOf(originalKey: string): string {
  const slash = originalKey.lastIndexOf("/");
  const name = originalKey.slice(slash + 1);
  const stem = name.slice(0, name.indexOf(".")).replace(/-original$/, "");
  return `${originalKey.slice(0, slash + 1)}${stem}-download.wav`;
}

/**
 * A file name the plugin can write in any DAW folder on any OS: letters, digits, spaces and `-_()`, nothing that
 * names a directory (no `/`, `\`, `..`, leading dot) or a Windows device, at most 80 characters, then `.wav`.
 */
export function downloadFilename(title: string): string {
  const cleaned = title
    .normalize("NFC")
    .replace(/[^\p{L}\p{N} _()-]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 80)
    .trim();
  const safe = !cleaned || /^(con|prn|aux|nul|com\d|lpt\d)$/i.test(cleaned) ? "Sidechain loop" : cleaned;
  return `${safe}.wav`;
}

async function renderWav(deps: Deps, post: PostRow, key: string) {
  await deps.ffmpeg.withTempDir(async (dir) => {
    const original = await deps.storage.get(post.originalKey);
    if (!original) throw errors.notFound("original_missing", "The original upload of this loop is no longer stored");
    const input = join(dir, "original");
    const output = join(dir, "download.wav");
    await Bun.write(input, new Response(original.body));
    const format = post.originalFormat;
    const r = await deps.ffmpeg.run(
      "ffmpeg",
      [
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-v",
        "error",
        "-protocol_whitelist",
        PROTOCOL_WHITELIST,
        "-f",
        format,
        "-i",
        `file:${input}`,
        "-map",
        "0:a:0",
        "-map_metadata",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        "-c:a",
        format === "wav" ? "copy" : "pcm_s24le",
        "-f",
        "wav",
        `file:${output}`,
      ],
      { stage: "download" },
    );
    if (r.exitCode !== 0) throw new Error(`ffmpeg could not render the download WAV: ${r.stderr.slice(-300)}`);
    await deps.storage.put(key, { path: output });
  });
}

/** The download of a ready post the viewer may see; renders and caches the WAV on first use. */
export async function downloadInfo(deps: Deps, postId: string, viewerId: string | null): Promise<DownloadInfo> {
  const row = await findVisiblePost(deps, postId, viewerId);
  if (!row) throw errors.notFound("post_not_found", "No such post");
  const p = row.post;
  if (p.status !== "ready") throw errors.conflict("post_not_ready", "This loop is still processing or failed; it can be downloaded once it is ready");
  const key = downloadKeyOf(p.originalKey);
  if (!(await deps.storage.exists(key))) await renderWav(deps, p, key);
  // Counted like plays: one atomic increment per download asked for (the producer sees download_count).
  await deps.database.db
    .update(posts)
    .set({ downloadCount: sql`${posts.downloadCount} + 1` })
    .where(eq(posts.id, p.id));
  return {
    download_url: deps.mediaUrl(key),
    filename: downloadFilename(p.title),
    metadata: {
      post_id: p.id,
      title: p.title,
      producer: row.author.username,
      bpm: p.bpm ?? 0,
      key: p.key,
      duration_seconds: p.durationSeconds ?? 0,
      duration_bars: p.durationBars ?? 0,
      genres: p.genres ?? [],
      daw: p.daw,
      format: "wav",
    },
  };
}

// Direct-message audio snippets (docs/plugin-contract.md "Uploads"). The plugin's chat records up to 30 s, encodes
// it as WAV and sends it to POST /audio/upload with the file in the field `audio` (StreamChatClient::
// uploadAudioSnippet in src/network/StreamChatClient.cpp), unlike a loop (`audio_file`). It reads `audio_url`
// (or `url`) and puts it in the chat message. A snippet is never a post: no row, no feed, no notification, no
// processing. It is checked like a loop (type by content, then ffprobe), stored as sent under
// snippets/<user id>/<128 random bits>.<ext> and served by /media like any object: unlisted, reachable only by
// whoever was given its URL.
import { join } from "node:path";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { DiskFile } from "../http/multipart.ts";
import { newKey } from "../storage/index.ts";
import { inspectAudio, isAudioError, toApiError } from "./pipeline.ts";
import type { AudioFormat } from "./sniff.ts";
import { EXT, type UploadFile } from "./upload.ts";

/** The plugin refuses to send more than 30 s; a little more is allowed for rounding of the encoder. */
export const SNIPPET_MAX_SECONDS = 31;

export type Snippet = { audio_url: string; url: string; duration_seconds: number; format: AudioFormat };

/** The upload form carries a direct-message snippet: a file in `audio` and none in `audio_file`. */
export function isSnippetForm(fields: Record<string, unknown>): boolean {
  const isFile = (v: unknown) => v instanceof DiskFile || v instanceof Blob;
  return isFile(fields.audio) && !isFile(fields.audio_file);
}

export async function uploadSnippet(deps: Deps, userId: string, file: UploadFile): Promise<Snippet> {
  if (file.size === 0) throw errors.unprocessable("empty_file", "The uploaded file is empty");
  if (file.size > deps.config.UPLOAD_MAX_BYTES) throw errors.tooLarge(`An upload is at most ${deps.config.UPLOAD_MAX_BYTES} bytes`);
  const probe = await deps.ffmpeg.withTempDir(async (dir) => {
    const path = file instanceof DiskFile ? file.path : join(dir, "snippet");
    if (!(file instanceof DiskFile)) await Bun.write(path, file);
    try {
      return await inspectAudio(deps.ffmpeg, path, { ...deps.audio, maxSeconds: Math.min(SNIPPET_MAX_SECONDS, deps.audio.maxSeconds) });
    } catch (err) {
      throw isAudioError(err) ? toApiError(err) : err;
    }
  });
  const key = newKey(["snippets", userId], EXT[probe.format]);
  await deps.storage.put(key, file instanceof DiskFile ? { path: file.path } : file);
  const url = deps.mediaUrl(key);
  return { audio_url: url, url, duration_seconds: probe.durationSeconds ?? 0, format: probe.format };
}

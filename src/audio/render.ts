// Running the audio pipeline on an original already in storage, and storing what it made: what the process-loop
// job, the add-renditions job and the process-story job (src/stories/process.ts) share, so loops and stories are
// processed by one pipeline (docs/architecture.md "Where things start").
import { join } from "node:path";
import type { Deps } from "../deps.ts";
import { type JobContext, PermanentJobError } from "../jobs/queue.ts";
import { type AudioOptions, type ProcessedAudio, processAudio } from "./pipeline.ts";

/** Fetches a stored original into a private temp dir and runs processAudio on it (the dir goes with the call). */
export function renderStoredOriginal(
  deps: Deps,
  originalKey: string,
  options: Partial<AudioOptions>,
  ctx: Pick<JobContext, "signal"> & Partial<Pick<JobContext, "progress">>,
): Promise<ProcessedAudio> {
  return deps.ffmpeg.withTempDir(async (dir) => {
    const original = await deps.storage.get(originalKey);
    if (!original) throw new PermanentJobError("the uploaded original is missing from storage");
    const input = join(dir, "original");
    await Bun.write(input, new Response(original.body));
    const progress = ctx.progress;
    return processAudio(deps.ffmpeg, { path: input }, options, {
      signal: ctx.signal,
      onProgress: progress ? (_stage, fraction) => void progress(Math.round(fraction * 100)) : undefined,
    });
  });
}

/** Where the renditions of one upload go (reserved by its upload). */
export type RenditionKeys = { audioKey: string; oggKey: string; peaksKey: string; waveformKey: string; waveformPngKey: string };

/** Stores the MP3, the Ogg, the peaks, the SVG and the PNG under their keys (storing twice just overwrites). */
export async function storeRenditions(deps: Deps, keys: RenditionKeys, result: ProcessedAudio): Promise<void> {
  await Promise.all([
    deps.storage.put(keys.audioKey, result.mp3, { contentType: "audio/mpeg" }),
    deps.storage.put(keys.oggKey, result.ogg, { contentType: "audio/ogg" }),
    deps.storage.put(keys.peaksKey, new TextEncoder().encode(JSON.stringify(result.peaks)), { contentType: "application/json" }),
    deps.storage.put(keys.waveformKey, new TextEncoder().encode(result.svg), { contentType: "image/svg+xml" }),
    deps.storage.put(keys.waveformPngKey, result.png, { contentType: "image/png" }),
  ]);
}

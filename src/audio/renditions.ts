// The add-renditions job: gives a post made before the plugin's renditions existed its Ogg Vorbis (audio_url) and
// its PNG waveform (waveform_url). One durable job per post, deduplicated by post id, queued at start by
// queueMissingRenditions() without holding the start up; a post that already has both is skipped, so the job is
// idempotent and a restart simply picks up the jobs still queued.
//
// The Ogg comes from the stored original through the same pipeline as an upload (normalised and verified like the
// MP3; the post's MP3, SVG and peaks stay as they are). The PNG is drawn from the stored peaks, without ffmpeg.
// Until the job has run, the post's audio_url is its MP3 and its waveform_url its SVG (posts/models.ts).
import { and, asc, eq, gt, isNull, or } from "drizzle-orm";
import { posts } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { type JobContext, type JobInfo, PermanentJobError } from "../jobs/queue.ts";
import { errorFields } from "../log.ts";
import { storedPeaks } from "../posts/card.ts";
import { newKey } from "../storage/index.ts";
import { isAudioError } from "./pipeline.ts";
import { renderStoredOriginal } from "./render.ts";
import { renderWaveformPng } from "./png.ts";

export const ADD_RENDITIONS = "add-renditions";
export type AddRenditionsPayload = { postId: string };

/** Posts scanned per query when queueing. */
const SCAN_BATCH = 500;

export function registerRenditions(deps: Deps) {
  // One at a time: new uploads keep the runner's ffmpeg slots while older posts catch up.
  deps.jobs.register<AddRenditionsPayload>(ADD_RENDITIONS, (job, ctx) => addRenditions(deps, job, ctx), {
    timeoutMs: deps.config.FFMPEG_TIMEOUT_MS * 6,
    concurrency: 1,
  });
}

const missing = or(isNull(posts.oggKey), isNull(posts.waveformPngKey));

/**
 * Queues one add-renditions job per ready post that lacks a rendition, in batches by id. A post that already has
 * a job (queued, running, done or failed) is not queued again (dedupe key): a post whose original is gone fails
 * once and keeps its MP3, instead of being retried at every start. Returns how many jobs were created.
 */
export async function queueMissingRenditions(deps: Deps): Promise<number> {
  let created = 0;
  for (let after = ""; ; ) {
    const rows = await deps.database.db
      .select({ id: posts.id })
      .from(posts)
      .where(and(eq(posts.status, "ready"), missing, gt(posts.id, after)))
      .orderBy(asc(posts.id))
      .limit(SCAN_BATCH);
    // One transaction per batch: a community with many older posts costs one write (and one emptying of the read
    // caches) per SCAN_BATCH posts, not one per post.
    created += await deps.database.tx(async (tx) => {
      let n = 0;
      for (const { id } of rows) {
        const r = await deps.jobs.enqueue(ADD_RENDITIONS, { postId: id }, { dedupeKey: `${ADD_RENDITIONS}:${id}`, tx });
        if (r.created) n++;
      }
      return n;
    });
    if (rows.length < SCAN_BATCH) break;
    after = rows.at(-1)!.id;
  }
  if (created) deps.log.info("older posts queued for their Ogg and PNG renditions", { count: created });
  return created;
}

export async function addRenditions(deps: Deps, job: JobInfo<AddRenditionsPayload>, ctx: JobContext) {
  const { postId } = job.payload;
  const [post] = await deps.database.db.select().from(posts).where(eq(posts.id, postId)).limit(1);
  if (post?.status !== "ready") return { skipped: "not a ready post" };
  if (post.oggKey && post.waveformPngKey) return { skipped: "has its renditions" };

  const dirs = ["loops", postId];
  const stored: string[] = [];
  const put = async (ext: "ogg" | "png", bytes: Uint8Array) => {
    const key = newKey(dirs, ext);
    await deps.storage.put(key, bytes, { contentType: ext === "ogg" ? "audio/ogg" : "image/png" });
    stored.push(key);
    return key;
  };
  let oggKey = post.oggKey;
  let pngKey = post.waveformPngKey;
  try {
    let peaks: number[] | null = null;
    if (!oggKey) {
      const result = await renderStoredOriginal(deps, post.originalKey, deps.audio, { signal: ctx.signal });
      oggKey = await put("ogg", result.ogg);
      peaks = result.peaks;
    }
    if (!pngKey) pngKey = await put("png", renderWaveformPng((await storedPeaks(deps, post.peaksKey)) ?? peaks ?? []));
  } catch (err) {
    await dropObjects(deps, stored);
    // Bad input cannot become good by retrying (the upload was accepted once, so this is rare).
    if (isAudioError(err) && !err.retryable) throw new PermanentJobError(err.message);
    throw err;
  }
  // Only fills what is still empty: a concurrent run or a deleted post changes nothing, and our objects go.
  const done = await deps.database.tx((tx) =>
    tx
      .update(posts)
      .set({ oggKey, waveformPngKey: pngKey })
      .where(and(eq(posts.id, postId), eq(posts.status, "ready"), missing))
      .returning({ id: posts.id }),
  );
  if (!done.length) {
    await dropObjects(deps, stored);
    return { skipped: "changed meanwhile" };
  }
  return { ogg: stored.some((k) => k.endsWith(".ogg")), png: stored.some((k) => k.endsWith(".png")) };
}

async function dropObjects(deps: Deps, keys: string[]) {
  if (keys.length) await deps.storage.deleteMany(keys).catch((err) => deps.log.warn("could not remove a rendition", { keys, ...errorFields(err) }));
}

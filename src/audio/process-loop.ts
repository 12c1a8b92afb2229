// The process-loop job: reloads the post by id, runs the audio pipeline on the stored original, stores the MP3,
// the Ogg, peaks, SVG and PNG under the keys the upload reserved, draws the share card (posts/card.ts), and marks
// the post ready. Idempotent: a post that is no longer
// `processing` is left alone, and storing under fixed keys twice just overwrites. Bad input fails at once (no
// retry); failures of the machine are retried by the queue, and the post is marked failed on the last attempt (by
// failAbandonedPosts, a periodic task, when the process died during it).
import { and, asc, eq, gt, or, sql } from "drizzle-orm";
import { posts, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { type JobContext, type JobInfo, type JobRow, PermanentJobError } from "../jobs/queue.ts";
import { errorFields } from "../log.ts";
import { storeCard } from "../posts/card.ts";
import { removePostMedia } from "../posts/service.ts";
import { publishPostReady } from "../realtime/events.ts";
import { onPostReady } from "../social/post-ready.ts";
import { newKey } from "../storage/index.ts";
import { isAudioError } from "./pipeline.ts";
import { renderStoredOriginal, storeRenditions } from "./render.ts";

export const PROCESS_LOOP = "process-loop";
export type ProcessLoopPayload = { postId: string };
/** A post's process-loop job is found by this dedupe key (one job per post, ever). */
export const processLoopKey = (postId: string) => `${PROCESS_LOOP}:${postId}`;

export function registerProcessLoop(deps: Deps) {
  deps.jobs.register<ProcessLoopPayload>(PROCESS_LOOP, (job, ctx) => processLoop(deps, job, ctx), {
    timeoutMs: deps.config.FFMPEG_TIMEOUT_MS * 6,
  });
}

export async function processLoop(deps: Deps, job: JobInfo<ProcessLoopPayload>, ctx: JobContext) {
  const { postId } = job.payload;
  const [post] = await deps.database.db.select().from(posts).where(eq(posts.id, postId)).limit(1);
  if (post?.status !== "processing") return { skipped: true };
  try {
    const result = await renderStoredOriginal(deps, post.originalKey, deps.audio, ctx);
    // A post uploaded before the renditions existed (and processed only now) gets their keys here.
    const oggKey = post.oggKey ?? newKey(["loops", postId], "ogg");
    const waveformPngKey = post.waveformPngKey ?? newKey(["loops", postId], "png");
    await storeRenditions(deps, { ...post, oggKey, waveformPngKey }, result);
    const cardKey = await drawCard(deps, post, result.peaks);
    const now = deps.clock.now();
    const updated = await deps.database.tx(
      async (tx) => {
        const done = await tx
          .update(posts)
          .set({
            status: "ready",
            oggKey,
            waveformPngKey,
            cardKey,
            loudnessLufs: round(result.measured.lufs, 2),
            truePeakDb: round(result.measured.truePeakDb, 2),
            durationSeconds: round(result.measured.durationSeconds, 4),
            sampleCount: result.measured.sampleCount,
            sampleRate: result.measured.sampleRate,
            channels: result.measured.channels,
            gainMode: result.gainMode,
            inputLufs: round(result.input.lufs, 2),
            readyAt: now,
            updatedAt: now,
          })
          .where(and(eq(posts.id, postId), eq(posts.status, "processing")))
          .returning({ id: posts.id });
        // The author's post_count counts ready posts; it changes in the same transaction (never drifts).
        if (done.length)
          await tx
            .update(users)
            .set({ postCount: sql`${users.postCount} + 1` })
            .where(eq(users.id, post.userId));
        if (done.length) await onPostReady(deps, tx, postId, post.userId);
        return done;
      },
      {
        // After the commit: followers connected over WebSocket get new_post.
        afterCommit: (done) => void (done.length && publishPostReady(deps, postId)),
      },
    );
    // Deleted while we worked: drop what we just stored.
    if (updated.length === 0) await removePostMedia(deps, postId);
    return {
      status: "ready",
      lufs: result.measured.lufs,
      true_peak_db: result.measured.truePeakDb,
      ogg_lufs: result.measuredOgg.lufs,
      ogg_true_peak_db: result.measuredOgg.truePeakDb,
      gain_mode: result.gainMode,
      encodes: result.encodes,
      ms: Math.round(result.timings.total),
    };
  } catch (err) {
    const permanent = err instanceof PermanentJobError || (isAudioError(err) && !err.retryable);
    if (permanent || job.attempt >= job.maxAttempts) {
      await markFailed(deps, postId, err);
      if (permanent && !(err instanceof PermanentJobError)) throw new PermanentJobError((err as Error).message);
    }
    throw err;
  }
}

/**
 * The share card's key, or null when it could not be drawn: a card is not worth failing a loop for, and the next
 * start's backfill (queueMissingCards) draws it.
 */
async function drawCard(deps: Deps, post: typeof posts.$inferSelect, peaks: readonly number[]): Promise<string | null> {
  try {
    const [author] = await deps.database.db.select({ username: users.username, displayName: users.displayName }).from(users).where(eq(users.id, post.userId));
    return author ? await storeCard(deps, post, author, peaks) : null;
  } catch (err) {
    deps.log.warn("could not draw a share card", { post_id: post.id, ...errorFields(err) });
    return null;
  }
}

/** A post whose processing failed for good: the reason is kept on the row, every stored object is removed. */
export async function markFailed(deps: Deps, postId: string, err: unknown) {
  const code = isAudioError(err) ? err.code : "processing_failed";
  const message = isAudioError(err) ? err.message : "The loop could not be processed";
  await deps.database.tx((tx) =>
    tx.update(posts).set({ status: "failed", errorCode: code, error: message, updatedAt: deps.clock.now() }).where(eq(posts.id, postId)),
  );
  await removePostMedia(deps, postId);
  deps.log.warn("loop processing failed", { post_id: postId, code, ...errorFields(err), detail: isAudioError(err) ? err.detail : undefined });
}

/** Posts still `processing` looked at per statement by failAbandonedPosts. */
const SWEEP_BATCH = 500;

/**
 * Marks failed the posts still `processing` whose job has failed for good: a job whose process died on its last
 * attempt is failed by the queue without the handler's markFailed. Run periodically by each instance (index.ts);
 * idempotent, so instances need not coordinate. Returns how many posts it marked. GET /audio/status already answers
 * `failed` for such a post (abandoned below) before this runs; it only reads.
 */
export async function failAbandonedPosts(deps: Deps): Promise<number> {
  let marked = 0;
  let after = { createdAt: -1, id: "" };
  for (;;) {
    // The (status, created_at, id) index answers it: a range of the few posts in processing.
    const batch = await deps.database.db
      .select({ id: posts.id, createdAt: posts.createdAt })
      .from(posts)
      .where(and(eq(posts.status, "processing"), or(gt(posts.createdAt, after.createdAt), and(eq(posts.createdAt, after.createdAt), gt(posts.id, after.id)))))
      .orderBy(asc(posts.createdAt), asc(posts.id))
      .limit(SWEEP_BATCH);
    if (!batch.length) return marked;
    const byKey = new Map((await deps.jobs.getByKeys(batch.map((p) => processLoopKey(p.id)))).map((j) => [j.dedupeKey, j]));
    for (const p of batch) {
      const job = byKey.get(processLoopKey(p.id));
      if (!abandoned("processing", job)) continue;
      await markFailed(deps, p.id, new Error(job!.lastError ?? "processing failed"));
      marked++;
    }
    if (batch.length < SWEEP_BATCH) return marked;
    after = batch[batch.length - 1]!;
  }
}

/** A post still `processing` whose job has failed for good: processing is over, the post failed. */
export const abandoned = (postStatus: string, job: Pick<JobRow, "status"> | undefined) => postStatus === "processing" && job?.status === "failed";

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

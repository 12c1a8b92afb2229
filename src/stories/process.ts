// The stories' two jobs (docs/architecture.md "Where things start"):
// - process-story: the loops' pipeline (src/audio/render.ts, the same processAudio as process-loop) on the stored
//   original, within the stories' length bound; stores the MP3, Ogg, peaks, SVG and PNG under the keys the upload
//   reserved and marks the story ready. Bad input fails at once; the upload then deletes the story (nothing stays).
// - expire-story: written with the story, due at its expiry (24 h); deletes the story and its media unless it is in
//   a highlight. Durable like every job: a server down at that moment runs it when it is back.
import { and, eq } from "drizzle-orm";
import { stories } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { type JobContext, type JobInfo, PermanentJobError } from "../jobs/queue.ts";
import { isAudioError } from "../audio/pipeline.ts";
import { renderStoredOriginal, storeRenditions } from "../audio/render.ts";
import { purgeExpired, removeStoryMedia } from "./service.ts";

export const PROCESS_STORY = "process-story";
export const EXPIRE_STORY = "expire-story";
export type StoryPayload = { storyId: string };
export const processStoryKey = (storyId: string) => `${PROCESS_STORY}:${storyId}`;
export const expireStoryKey = (storyId: string) => `${EXPIRE_STORY}:${storyId}`;

/** A story is at most a minute (the plugin records 5 to 60 s); the extra second is the encoder's rounding. */
export const STORY_MAX_SECONDS = 61;
export const storyAudioOptions = (deps: Pick<Deps, "audio">) => ({ ...deps.audio, maxSeconds: Math.min(STORY_MAX_SECONDS, deps.audio.maxSeconds) });

export function registerProcessStory(deps: Deps) {
  deps.jobs.register<StoryPayload>(PROCESS_STORY, (job, ctx) => processStory(deps, job, ctx), { timeoutMs: deps.config.FFMPEG_TIMEOUT_MS * 6 });
}

export function registerExpireStory(deps: Deps) {
  deps.jobs.register<StoryPayload>(EXPIRE_STORY, async (job) => ({ purged: await purgeExpired(deps, [job.payload.storyId]) }));
}

export async function processStory(deps: Deps, job: JobInfo<StoryPayload>, ctx: JobContext) {
  const { storyId } = job.payload;
  const [story] = await deps.database.db.select().from(stories).where(eq(stories.id, storyId)).limit(1);
  if (story?.status !== "processing") return { skipped: true };
  try {
    const result = await renderStoredOriginal(deps, story.originalKey, storyAudioOptions(deps), ctx);
    await storeRenditions(deps, story, result);
    const updated = await deps.database.tx((tx) =>
      tx
        .update(stories)
        .set({ status: "ready", durationSeconds: Math.round(result.measured.durationSeconds * 1e4) / 1e4, updatedAt: deps.clock.now() })
        .where(and(eq(stories.id, storyId), eq(stories.status, "processing")))
        .returning({ id: stories.id }),
    );
    // Deleted while we worked: drop what we just stored.
    if (updated.length === 0) await removeStoryMedia(deps, story.userId, storyId);
    return { status: "ready", ms: Math.round(result.timings.total) };
  } catch (err) {
    const permanent = err instanceof PermanentJobError || (isAudioError(err) && !err.retryable);
    if (permanent || job.attempt >= job.maxAttempts) {
      const code = isAudioError(err) ? err.code : "processing_failed";
      const message = isAudioError(err) ? err.message : "The story could not be processed";
      await deps.database.tx((tx) =>
        tx.update(stories).set({ status: "failed", errorCode: code, error: message, updatedAt: deps.clock.now() }).where(eq(stories.id, storyId)),
      );
      await removeStoryMedia(deps, story.userId, storyId);
      if (permanent && !(err instanceof PermanentJobError)) throw new PermanentJobError((err as Error).message);
    }
    throw err;
  }
}

// Posting a story (POST /stories, multipart with the file in `audio`: NetworkClient::uploadStory in the plugin's
// src/network/api/StoriesClient.cpp, which also sends duration, bpm, key, genre and midi_data). The same checks as a
// loop (src/audio/upload.ts: type by content, ffprobe, the member's quota) with the stories' length bound; then the
// story row (processing), its original, its process-story job and its expire-story job (due in 24 h) are written
// together, and the upload waits a bounded time for processing, as a loop's does. A refused file leaves nothing:
// no row, no job, no file.
import { and, eq } from "drizzle-orm";
import { jobs, stories } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { DiskFile } from "../http/multipart.ts";
import { newId } from "../lib/crypto.ts";
import { keyPrefix } from "../storage/index.ts";
import { toApiError } from "../audio/pipeline.ts";
import { checkUploadFile, parseUploadMeta, type UploadFields, uploadKeys } from "../audio/upload.ts";
import { EXPIRE_STORY, expireStoryKey, PROCESS_STORY, processStoryKey, storyAudioOptions } from "./process.ts";
import { getStory, removeStoryMedia, STORY_TTL_MS, storyDirs } from "./service.ts";
import type { StoryT } from "./models.ts";

/** The plugin's piano-roll events, as a JSON object string: bounded so a story row stays small. */
export const MIDI_DATA_MAX_BYTES = 64 * 1024;

function parseMidi(v: unknown): Record<string, unknown> | null {
  if (v === undefined || v === "") return null;
  const refuse = (why: string) => errors.validation({ midi_data: why });
  if (typeof v !== "string") throw refuse("A JSON object as a text field");
  if (new TextEncoder().encode(v).length > MIDI_DATA_MAX_BYTES) throw refuse(`At most ${MIDI_DATA_MAX_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw refuse("Not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw refuse("A JSON object");
  return parsed as Record<string, unknown>;
}

export type StoryOutcome = { created: boolean; story: StoryT };

export async function uploadStoryForm(deps: Deps, userId: string, fields: UploadFields, idempotencyHeader: string | null): Promise<StoryOutcome> {
  const file = fields.audio;
  if (!(file instanceof DiskFile || file instanceof Blob)) throw errors.validation({ audio: "Attach the story as the multipart file field audio" });
  const meta = parseUploadMeta(fields, idempotencyHeader);
  const midiData = parseMidi(fields.midi_data);
  if (file.size > deps.config.UPLOAD_MAX_BYTES) throw errors.tooLarge(`A story is at most ${deps.config.UPLOAD_MAX_BYTES} bytes`);
  const existing = meta.idempotencyKey ? await findByKey(deps, userId, meta.idempotencyKey) : undefined;
  if (existing) return { created: false, story: await getStory(deps, existing, userId) };

  const { format } = await checkUploadFile(deps, userId, file, storyAudioOptions(deps));
  const id = newId();
  const dirs = storyDirs(userId, id);
  const keys = uploadKeys(dirs, format);
  const now = deps.clock.now();
  const expiresAt = now + STORY_TTL_MS;
  await deps.storage.put(keys.originalKey, file instanceof DiskFile ? { path: file.path } : file);
  let jobId: string;
  try {
    jobId = await deps.database.tx(async (tx) => {
      await tx.insert(stories).values({
        id,
        userId,
        status: "processing",
        title: meta.title === "Untitled loop" ? "" : meta.title,
        bpm: meta.bpm,
        key: meta.key,
        genres: meta.genres,
        midiData,
        idempotencyKey: meta.idempotencyKey,
        ...keys,
        originalFormat: format,
        originalBytes: file.size,
        createdAt: now,
        expiresAt,
        updatedAt: now,
      });
      await deps.jobs.enqueue(EXPIRE_STORY, { storyId: id }, { dedupeKey: expireStoryKey(id), runAt: expiresAt, tx });
      const { job } = await deps.jobs.enqueue(PROCESS_STORY, { storyId: id }, { dedupeKey: processStoryKey(id), tx });
      return job.id;
    });
  } catch (err) {
    await deps.storage.deletePrefix(keyPrefix(dirs)).catch(() => undefined);
    throw err;
  }
  deps.jobs.wake();
  const final = await deps.jobs.waitFor(jobId, deps.config.UPLOAD_WAIT_MS);
  if (final?.status === "failed") {
    // Processing refused the file within the wait: the story goes (row, jobs, media), the producer gets the reason.
    const [row] = await deps.database.db.select().from(stories).where(eq(stories.id, id)).limit(1);
    await deps.database.tx(async (tx) => {
      await tx.delete(stories).where(eq(stories.id, id));
      await deps.jobs.discard(jobId, { tx });
      // Its expire-story job, due in a day, has nothing left to do.
      await tx.delete(jobs).where(and(eq(jobs.dedupeKey, expireStoryKey(id)), eq(jobs.status, "queued")));
    });
    await removeStoryMedia(deps, userId, id);
    throw toApiError({ code: row?.errorCode ?? "processing_failed", message: row?.error ?? "The story could not be processed" });
  }
  return { created: true, story: await getStory(deps, id, userId) };
}

async function findByKey(deps: Deps, userId: string, key: string): Promise<string | undefined> {
  const [row] = await deps.database.db
    .select({ id: stories.id })
    .from(stories)
    .where(and(eq(stories.userId, userId), eq(stories.idempotencyKey, key)))
    .limit(1);
  return row?.id;
}

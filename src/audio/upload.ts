// The upload: checks the file is really audio (magic bytes, then ffprobe) and the metadata is sane, then creates
// the post `processing`, stores the original and enqueues process-loop in one go, and waits a bounded time for the
// job. Nothing is written before the checks pass; a failure after the original is stored removes it again.
import { and, eq, ne, sql } from "drizzle-orm";
import { join } from "node:path";
import { posts } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { DiskFile } from "../http/multipart.ts";
import { newId } from "../lib/crypto.ts";
import { getPost, removePostMedia, type PostRow } from "../posts/service.ts";
import type { PostT } from "../posts/models.ts";
import { keyPrefix, newKey, type MediaExtension } from "../storage/index.ts";
import { inspectAudio, isAudioError, toApiError } from "./pipeline.ts";
import { abandoned, PROCESS_LOOP, processLoopKey } from "./process-loop.ts";
import { normalizeKey } from "./keys.ts";
import type { AudioFormat } from "./sniff.ts";

const MIN_BPM = 20;
const MAX_BPM = 400;
const RECORDING_ID = /^[0-9a-fA-F]{32}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,128}$/;
export const EXT: Record<AudioFormat, MediaExtension> = { wav: "wav", aiff: "aiff", flac: "flac", mp3: "mp3", ogg: "ogg" };

export type UploadFields = Record<string, unknown>;
export type UploadMeta = {
  title: string;
  bpm: number | null;
  key: string;
  daw: string;
  genres: string[];
  durationBars: number | null;
  commentAudience: string;
  recordingId: string | null;
  idempotencyKey: string | null;
};

const text = (v: unknown, max: number) => (typeof v === "string" ? v.trim().slice(0, max) : "");

/** Validates the plugin's text fields (all optional strings; unknown fields are ignored). */
export function parseUploadMeta(fields: UploadFields, idempotencyHeader: string | null): UploadMeta {
  const problems: Record<string, string> = {};
  const bpmRaw = text(fields.bpm, 20);
  let bpm: number | null = null;
  if (bpmRaw) {
    bpm = Number(bpmRaw); // accepts "120.0"
    if (!Number.isFinite(bpm)) problems.bpm = "A tempo as a decimal number, e.g. \"120.0\"";
    // The plugin sends the DAW's tempo, which may be anything (5 or 999 BPM): outside 20-400 it is stored as
    // unknown (bpm 0 in answers) rather than refusing the loop or inventing a clamped tempo.
    else if (bpm < MIN_BPM || bpm > MAX_BPM) bpm = null;
  }
  // The plugin names keys as its detector does ("A minor", "F# major"; "C major" by default): read any common
  // spelling; a key we cannot read is stored as unknown rather than refusing the loop (src/audio/keys.ts).
  const key = normalizeKey(text(fields.key, 40));
  const barsRaw = text(fields.duration_bars, 10);
  let durationBars: number | null = null;
  if (barsRaw) {
    durationBars = Number(barsRaw);
    if (!Number.isInteger(durationBars) || durationBars < 1 || durationBars > 256) problems.duration_bars = "A whole number of bars from 1 to 256";
  }
  const recordingId = text(fields.recording_id, 64) || null;
  if (recordingId && !RECORDING_ID.test(recordingId)) problems.recording_id = "32 hexadecimal characters";
  const idempotencyKey = idempotencyHeader?.trim() || null;
  if (idempotencyKey && !IDEMPOTENCY_KEY.test(idempotencyKey)) problems["Idempotency-Key"] = "8 to 128 visible ASCII characters";
  if (Object.keys(problems).length) throw errors.validation(problems);
  const genre = text(fields.genre, 200);
  return {
    title: text(fields.filename, 120).replace(/[\u0000-\u001f\u007f]/g, "") || "Untitled loop",
    bpm,
    key,
    daw: text(fields.daw, 60),
    genres: genre ? genre.split(",").map((g) => g.trim()).filter(Boolean).slice(0, 5) : [],
    durationBars,
    commentAudience: text(fields.comment_audience, 20) || "everyone",
    recordingId: recordingId?.toLowerCase() ?? null,
    idempotencyKey,
  };
}

/** The plugin names the file field audio_file; other clients may say audio or file. */
export function pickFile(fields: UploadFields): UploadFile {
  for (const name of ["audio_file", "audio", "file"]) {
    const v = fields[name];
    if (v instanceof DiskFile || v instanceof Blob) return v;
  }
  throw errors.validation({ audio_file: "Attach the loop as the multipart file field audio_file" });
}

async function findExisting(deps: Deps, userId: string, meta: UploadMeta): Promise<PostRow | undefined> {
  const keys = [
    meta.recordingId ? eq(posts.recordingId, meta.recordingId) : undefined,
    meta.idempotencyKey ? eq(posts.idempotencyKey, meta.idempotencyKey) : undefined,
  ].filter(Boolean);
  for (const k of keys) {
    const [p] = await deps.database.db.select().from(posts).where(and(eq(posts.userId, userId), k!)).limit(1);
    if (p) return p;
  }
  return undefined;
}

export type UploadOutcome = { created: boolean; post: PostT };

async function checkQuota(deps: Deps, userId: string, bytes: number) {
  const { USER_MAX_LOOPS, USER_MAX_BYTES } = deps.config;
  if (!USER_MAX_LOOPS && !USER_MAX_BYTES) return;
  const [row] = await deps.database.db
    .select({ n: sql<number>`count(*)`, bytes: sql<number>`coalesce(sum(${posts.originalBytes}), 0)` })
    .from(posts)
    .where(and(eq(posts.userId, userId), ne(posts.status, "failed")));
  if (USER_MAX_LOOPS && Number(row?.n ?? 0) >= USER_MAX_LOOPS) throw errors.forbidden("quota_exceeded", `This server keeps at most ${USER_MAX_LOOPS} loops per producer`);
  if (USER_MAX_BYTES && Number(row?.bytes ?? 0) + bytes > USER_MAX_BYTES) throw errors.forbidden("quota_exceeded", "Your storage quota on this server is used up");
}

/** Creates (or, for a retried upload, finds) the post and waits up to UPLOAD_WAIT_MS for it to be processed. */
/** The uploaded file: streamed to disk by the route (DiskFile), or in memory (a Blob, e.g. from another caller). */
export type UploadFile = DiskFile | Blob;

export async function uploadLoop(deps: Deps, userId: string, file: UploadFile, meta: UploadMeta): Promise<UploadOutcome> {
  // The route limits the body while it streams; this holds whoever called us, however the path was spelt.
  const { UPLOAD_MAX_BYTES } = deps.config;
  if (file.size > UPLOAD_MAX_BYTES) throw errors.tooLarge(`A loop upload is at most ${UPLOAD_MAX_BYTES} bytes`);
  const existing = await findExisting(deps, userId, meta);
  if (existing) return { created: false, post: await waitForPost(deps, existing.id, userId) };

  if (file.size === 0) throw errors.unprocessable("empty_file", "The uploaded file is empty");
  await checkQuota(deps, userId, file.size);
  // The type is decided by the bytes (never the file name or declared type), the WAV/AIFF header is checked
  // against the real size, and ffprobe confirms format, codec, duration, rate and channels: all before anything
  // is written, and without decoding the audio. A file the route streamed to disk is inspected where it is.
  const { format } = await deps.ffmpeg.withTempDir(async (dir) => {
    const path = file instanceof DiskFile ? file.path : join(dir, "upload");
    if (!(file instanceof DiskFile)) await Bun.write(path, file);
    try {
      return await inspectAudio(deps.ffmpeg, path, deps.audio);
    } catch (err) {
      throw isAudioError(err) ? toApiError(err) : err;
    }
  });

  const postId = newId();
  const dirs = ["loops", postId];
  const keys = {
    originalKey: newKey(dirs, EXT[format], "original"),
    audioKey: newKey(dirs, "mp3"),
    peaksKey: newKey(dirs, "json"),
    waveformKey: newKey(dirs, "svg"),
    // The plugin's renditions (audio_url, waveform_url): reserved with the others, stored by process-loop.
    oggKey: newKey(dirs, "ogg"),
    waveformPngKey: newKey(dirs, "png"),
  };
  const now = deps.clock.now();
  await deps.storage.put(keys.originalKey, file instanceof DiskFile ? { path: file.path } : file);
  let jobId: string;
  try {
    jobId = await deps.database.tx(async (tx) => {
      await tx.insert(posts).values({
        id: postId,
        userId,
        status: "processing",
        title: meta.title,
        bpm: meta.bpm,
        key: meta.key,
        daw: meta.daw,
        genres: meta.genres,
        durationBars: meta.durationBars,
        commentAudience: meta.commentAudience,
        recordingId: meta.recordingId,
        idempotencyKey: meta.idempotencyKey,
        ...keys,
        originalFormat: format,
        originalBytes: file.size,
        createdAt: now,
        updatedAt: now,
      });
      // Through the configured queue, so its defaults (JOB_MAX_ATTEMPTS) apply; written in our transaction.
      const { job } = await deps.jobs.enqueue(PROCESS_LOOP, { postId }, { dedupeKey: processLoopKey(postId), tx });
      return job.id;
    });
  } catch (err) {
    await deps.storage.deletePrefix(keyPrefix(dirs)).catch(() => undefined);
    // A concurrent retry of the same upload won the unique (user, recording/idempotency key): answer with its post.
    if (/UNIQUE/i.test(String((err as Error)?.message))) {
      const winner = await findExisting(deps, userId, meta);
      if (winner) return { created: false, post: await waitForPost(deps, winner.id, userId) };
    }
    throw err;
  }
  deps.jobs.wake();
  const final = await deps.jobs.waitFor(jobId, deps.config.UPLOAD_WAIT_MS);
  if (final?.status === "failed") {
    // Processing refused the file within the wait: the upload changes nothing, the producer gets the reason.
    const [row] = await deps.database.db.select().from(posts).where(eq(posts.id, postId)).limit(1);
    await deps.database.tx(async (tx) => {
      await tx.delete(posts).where(eq(posts.id, postId));
      await deps.jobs.discard(jobId, { tx });
    });
    await removePostMedia(deps, postId);
    throw toApiError(failureOf(row));
  }
  return { created: true, post: await getPost(deps, postId, userId) };
}

/** Why a failed post failed, as kept on its row by markFailed (a row without a reason: our failure). */
const failureOf = (row: PostRow | undefined) => ({ code: row?.errorCode ?? "processing_failed", message: row?.error ?? "The loop could not be processed" });

async function waitForPost(deps: Deps, postId: string, userId: string): Promise<PostT> {
  const status = await getUploadStatus(deps, postId, userId);
  if (status.status === "processing" && status.jobId) await deps.jobs.waitFor(status.jobId, deps.config.UPLOAD_WAIT_MS);
  return getPost(deps, postId, userId);
}

/** GET /audio/status: the post's state, the job's progress and, when it failed, why. Owner only until ready. Reads only. */
export async function getUploadStatus(deps: Deps, postId: string, viewerId: string) {
  const post = await getPost(deps, postId, viewerId);
  const [job] = await deps.jobs.getByKeys([processLoopKey(postId)]);
  // A job that gave up without marking its post (its process died on the last attempt) means the post failed;
  // failAbandonedPosts (a periodic task) writes that on the row. Until then the reason is the default one.
  const status = abandoned(post.status, job) ? "failed" : post.status;
  const [row] = status === "failed" ? await deps.database.db.select().from(posts).where(eq(posts.id, postId)).limit(1) : [];
  return {
    status,
    progress: status === "ready" ? 100 : (job?.progress ?? 0),
    ...(status === "failed" ? { error: failureOf(row).code, message: failureOf(row).message } : {}),
    post: status === post.status ? post : { ...post, status },
    jobId: job?.id,
  };
}

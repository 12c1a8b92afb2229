// The upload: checks the file is really audio (magic bytes, then ffprobe) and the metadata is sane, then creates
// the post `processing`, stores the original and enqueues process-loop in one go, and waits a bounded time for the
// job. Nothing is written before the checks pass; a failure after the original is stored removes it again.
import { and, eq } from "drizzle-orm";
import { join } from "node:path";
import { posts } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { t } from "elysia";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ErrorSchema, errors, validationFields } from "../http/errors.ts";
import { MULTIPART_ENVELOPE_BYTES, type Declared } from "../http/body.ts";
import { DiskFile, type MultipartLimits, readUploadForm } from "../http/multipart.ts";
import { newId } from "../lib/crypto.ts";
import { getPost, removePostMedia, type PostRow } from "../posts/service.ts";
import type { PostT } from "../posts/models.ts";
import { keyPrefix, newKey, type MediaExtension } from "../storage/index.ts";
import { type AudioOptions, inspectAudio, isAudioError, type ProbeResult, toApiError } from "./pipeline.ts";
import { abandoned, PROCESS_LOOP, processLoopKey } from "./process-loop.ts";
import { normalizeKey } from "./keys.ts";
import { AudioError } from "./errors.ts";
import type { AudioFormat } from "./sniff.ts";
import { isUniqueViolation } from "../db/errors.ts";
import { checkQuota } from "./quota.ts";

const MIN_BPM = 20;
const MAX_BPM = 400;
export const EXT: Record<AudioFormat, MediaExtension> = { wav: "wav", aiff: "aiff", flac: "flac", mp3: "mp3", ogg: "ogg" };

/** A text field: an optional string; `rule` is its pattern and the message a validation_error gives for it. */
const field = (description: string, example: string, rule?: { pattern: string; error: string }) =>
  t.Optional(t.String({ description, examples: [example], ...rule }));

/**
 * The upload's text fields (the plugin's, all optional strings; unknown fields are ignored). One schema is the rule
 * for each: parseUploadMeta checks the trimmed values with it, and the route's form in the OpenAPI document is built
 * from it. bpm takes what JavaScript's Number() reads as a number ("120.0", "1.2e2", "0x78").
 */
export const UploadTextFields = t.Object({
  filename: field("display title", "Midnight chords"),
  bpm: field("tempo as a decimal string", "120.0", {
    pattern: "^([+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)?$",
    error: 'A tempo as a decimal number, e.g. "120.0"',
  }),
  key: field("C … B, sharps or flats, m for minor", "Am"),
  genre: field("comma-separated genres", "lofi"),
  daw: field("the producer's DAW", "Ableton Live"),
  duration_seconds: field("as measured by the plugin (the server measures its own)", "16.0"),
  duration_bars: field("whole number of bars", "8", {
    pattern: "^(0*([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-6])([.]0*)?)?$",
    error: "A whole number of bars from 1 to 256",
  }),
  sample_rate: field("informational", "44100"),
  channels: field("informational", "2"),
  recording_id: field("32 hex characters, unique per recording: a retried upload returns the same post", "0123456789abcdef0123456789abcdef", {
    pattern: "^([0-9a-fA-F]{32})?$",
    error: "32 hexadecimal characters",
  }),
  comment_audience: field("who may comment", "everyone"),
});
/** The Idempotency-Key header, checked like a field (named so in a validation_error). */
const UploadHeaders = t.Object({ "Idempotency-Key": t.Optional(t.String({ pattern: "^[\\x21-\\x7e]{8,128}$", error: "8 to 128 visible ASCII characters" })) });
const checkFields = TypeCompiler.Compile(UploadTextFields);
const checkHeaders = TypeCompiler.Compile(UploadHeaders);
/** How much of each field is read (longer values are cut, as before the schema). */
const FIELD_MAX: Record<keyof typeof UploadTextFields.properties, number> = {
  filename: 120,
  bpm: 20,
  key: 40,
  genre: 200,
  daw: 60,
  duration_seconds: 20,
  duration_bars: 10,
  sample_rate: 20,
  channels: 10,
  recording_id: 64,
  comment_audience: 20,
};

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

/** Validates the plugin's text fields with UploadTextFields (400 validation_error naming each refused field). */
export function parseUploadMeta(fields: UploadFields, idempotencyHeader: string | null): UploadMeta {
  const f = {} as Record<keyof typeof FIELD_MAX, string>;
  for (const [name, max] of Object.entries(FIELD_MAX) as [keyof typeof FIELD_MAX, number][]) {
    const v = fields[name];
    f[name] = typeof v === "string" ? v.trim().slice(0, max) : "";
  }
  const idempotencyKey = idempotencyHeader?.trim() || null;
  const headers = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
  const problems = {
    ...(checkFields.Check(f) ? {} : validationFields({ all: [...checkFields.Errors(f)] })),
    ...(checkHeaders.Check(headers) ? {} : validationFields({ all: [...checkHeaders.Errors(headers)] })),
  };
  if (Object.keys(problems).length) throw errors.validation(problems);
  // The plugin sends the DAW's tempo, which may be anything (5 or 999 BPM): outside 20-400 it is stored as
  // unknown (bpm 0 in answers) rather than refusing the loop or inventing a clamped tempo.
  const bpm = f.bpm ? Number(f.bpm) : null;
  return {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the title must not keep
    title: f.filename.replace(/[\u0000-\u001f\u007f]/g, "") || "Untitled loop",
    bpm: bpm !== null && bpm >= MIN_BPM && bpm <= MAX_BPM ? bpm : null,
    // The plugin names keys as its detector does ("A minor", "F# major"; "C major" by default): read any common
    // spelling; a key we cannot read is stored as unknown rather than refusing the loop (src/audio/keys.ts).
    key: normalizeKey(f.key),
    daw: f.daw,
    genres: f.genre
      ? f.genre
          .split(",")
          .map((g) => g.trim())
          .filter(Boolean)
          .slice(0, 5)
      : [],
    durationBars: f.duration_bars ? Number(f.duration_bars) : null,
    commentAudience: f.comment_audience || "everyone",
    recordingId: f.recording_id.toLowerCase() || null,
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

/**
 * How an upload route takes its body (the API's /audio/upload and the web app's /upload): multipart up to
 * UPLOAD_MAX_BYTES plus the envelope, read by the handler (receiveUpload) once it knows who is asking and the
 * rate limit has passed, so a stranger's 50 MB is never read.
 */
export const uploadBody = (config: Pick<Deps["config"], "UPLOAD_MAX_BYTES">): Declared => ({
  kinds: ["multipart"],
  maxBytes: config.UPLOAD_MAX_BYTES + MULTIPART_ENVELOPE_BYTES,
  readInHandler: true,
});

/** How an upload route may refuse (the loop upload's and the story upload's answers besides their successes). */
export const UPLOAD_REFUSALS = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  413: ErrorSchema,
  415: ErrorSchema,
  422: ErrorSchema,
  429: ErrorSchema,
  503: ErrorSchema,
};

/**
 * Reads an upload request's form, its file part streamed into a private temp dir, and runs `act` on the fields;
 * the dir and the file go when `act` is done, stored or refused. `beforeFile` may refuse the request from the text
 * fields that came before the file, before any of the file is written (multipart.ts).
 */
export async function receiveUpload<T>(
  deps: Deps,
  request: Request,
  act: (fields: UploadFields) => Promise<T>,
  beforeFile?: MultipartLimits["beforeFile"],
): Promise<T> {
  // Without working audio tools every upload would fail after its body was read: refuse it first (README "Audio tools").
  const tools = await deps.ffmpeg.tools.check();
  if (!tools.ok) throw toApiError(new AudioError("ffmpeg_unavailable", "Audio processing is not available on this server", tools.problems.join("; ")));
  return deps.ffmpeg.withTempDir(async (dir) => act(await readUploadForm(request, uploadBody(deps.config), dir, beforeFile)));
}

/** A loop from an upload form (fields and file as receiveUpload read them): the checked metadata, then uploadLoop. */
export function uploadLoopForm(deps: Deps, userId: string, fields: UploadFields, idempotencyHeader: string | null): Promise<UploadOutcome> {
  const meta = parseUploadMeta(fields, idempotencyHeader);
  return uploadLoop(deps, userId, pickFile(fields), meta);
}

async function findExisting(deps: Deps, userId: string, meta: UploadMeta): Promise<PostRow | undefined> {
  const keys = [
    meta.recordingId ? eq(posts.recordingId, meta.recordingId) : undefined,
    meta.idempotencyKey ? eq(posts.idempotencyKey, meta.idempotencyKey) : undefined,
  ].filter(Boolean);
  for (const k of keys) {
    const [p] = await deps.database.db
      .select()
      .from(posts)
      .where(and(eq(posts.userId, userId), k!))
      .limit(1);
    if (p) return p;
  }
  return undefined;
}

/**
 * The checks an upload passes before anything is written (loops here, stories in src/stories/upload.ts): not
 * empty, within the member's quota, and really audio within `options`' bounds. The type is decided by the bytes
 * (never the file name or declared type), the WAV/AIFF header is checked against the real size, and ffprobe
 * confirms format, codec, duration, rate and channels, without decoding the audio. A file the route streamed to
 * disk is inspected where it is.
 */
export async function checkUploadFile(deps: Deps, userId: string, file: UploadFile, options: Partial<AudioOptions>): Promise<ProbeResult> {
  if (file.size === 0) throw errors.unprocessable("empty_file", "The uploaded file is empty");
  await checkQuota(deps, userId, file.size);
  return deps.ffmpeg.withTempDir(async (dir) => {
    const path = file instanceof DiskFile ? file.path : join(dir, "upload");
    if (!(file instanceof DiskFile)) await Bun.write(path, file);
    try {
      return await inspectAudio(deps.ffmpeg, path, options);
    } catch (err) {
      throw isAudioError(err) ? toApiError(err) : err;
    }
  });
}

/** The keys of an upload's original and of every rendition, reserved together under `dirs` before anything is stored. */
export function uploadKeys(dirs: string[], format: AudioFormat) {
  return {
    originalKey: newKey(dirs, EXT[format], "original"),
    audioKey: newKey(dirs, "mp3"),
    peaksKey: newKey(dirs, "json"),
    waveformKey: newKey(dirs, "svg"),
    // The plugin's renditions (audio_url, waveform_url): reserved with the others, stored by the processing job.
    oggKey: newKey(dirs, "ogg"),
    waveformPngKey: newKey(dirs, "png"),
  };
}

export type UploadOutcome = { created: boolean; post: PostT };

/** The uploaded file: streamed to disk by the route (DiskFile), or in memory (a Blob, e.g. from another caller). */
export type UploadFile = DiskFile | Blob;

/** Creates (or, for a retried upload, finds) the post and waits up to UPLOAD_WAIT_MS for it to be processed. */
export async function uploadLoop(deps: Deps, userId: string, file: UploadFile, meta: UploadMeta): Promise<UploadOutcome> {
  // The route limits the body while it streams; this holds whoever called us, however the path was spelt.
  const { UPLOAD_MAX_BYTES } = deps.config;
  if (file.size > UPLOAD_MAX_BYTES) throw errors.tooLarge(`A loop upload is at most ${UPLOAD_MAX_BYTES} bytes`);
  const existing = await findExisting(deps, userId, meta);
  if (existing) return { created: false, post: await waitForPost(deps, existing.id, userId) };

  const { format } = await checkUploadFile(deps, userId, file, deps.audio);

  const postId = newId();
  const dirs = ["loops", postId];
  const keys = uploadKeys(dirs, format);
  const now = deps.clock.now();
  await deps.storage.put(keys.originalKey, file instanceof DiskFile ? { path: file.path } : file);
  let jobId: string;
  try {
    jobId = await deps.database.tx(async (tx) => {
      await checkQuota(deps, userId, file.size, tx);
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
    if (isUniqueViolation(err)) {
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

// /api/v1/audio: the loop upload (the plugin's share button) and its status.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { bodies } from "../http/body.ts";
import { ErrorSchema } from "../http/errors.ts";
import { Post, postExample } from "../posts/models.ts";
import { getUploadStatus, pickFile, receiveUpload, UPLOAD_REFUSALS, UploadTextFields, uploadBody, uploadLoopForm } from "./upload.ts";
import { QuotaSchema, uploadQuota } from "./quota.ts";
import { isSnippetForm, uploadSnippet, type Snippet } from "./snippet.ts";

const UploadResponse = t.Composite([Post, t.Object({ post_id: t.String(), audio_url: t.String({ minLength: 1 }) })], {
  examples: [{ ...postExample, post_id: postExample.id }],
});
const SnippetResponse = t.Object(
  {
    audio_url: t.String({ minLength: 1, description: "the stored snippet (unlisted: no post, no feed)" }),
    url: t.String({ minLength: 1, description: "the same URL (the plugin reads either)" }),
    duration_seconds: t.Number(),
    format: t.String(),
  },
  {
    examples: [
      {
        audio_url: "http://localhost:8787/media/snippets/01934f7e/3f2a.wav",
        url: "http://localhost:8787/media/snippets/01934f7e/3f2a.wav",
        duration_seconds: 4.2,
        format: "wav",
      },
    ],
  },
);
const UploadOrSnippet = t.Union([UploadResponse, SnippetResponse], { examples: UploadResponse.examples });
const StatusResponse = t.Object(
  {
    status: t.Union([t.Literal("processing"), t.Literal("ready"), t.Literal("failed"), t.Literal("withheld"), t.Literal("removed")]),
    progress: t.Integer({ minimum: 0, maximum: 100 }),
    error: t.Optional(t.String({ description: "why processing failed (only when status is failed)" })),
    message: t.Optional(t.String()),
    post: Post,
  },
  { examples: [{ status: "ready", progress: 100, post: postExample }] },
);

const UploadForm = t.Object({
  audio_file: t.Optional(t.File({ description: "the loop (plugin's field name); WAV, AIFF, FLAC, MP3 or Ogg, decided by content" })),
  audio: t.Optional(
    t.File({ description: "a direct-message audio snippet (plugin chat, at most 30 s): stored unlisted, never a post; answers {audio_url, url}" }),
  ),
  file: t.Optional(t.File({ description: "alternative file field name" })),
  ...UploadTextFields.properties,
});

export const audioRoutes = (deps: Deps) => {
  return new Elysia({ name: "audio-routes", prefix: "/audio", detail: { tags: ["loops"] } })
    .use(authGuard(deps))
    .use(bodies(deps.config.BODY_MAX_BYTES))
    .post(
      "/upload",
      async ({ auth, request, set }) => {
        // Only a signed-in producer within the rate limit gets the body read (after the guard, in the handler); the
        // file part streams into a private temp dir (removed when the upload has been stored or refused).
        const outcome = await receiveUpload(deps, request, async (fields) => {
          if (isSnippetForm(fields)) return { snippet: await uploadSnippet(deps, auth.user.id, pickFile(fields)) };
          return uploadLoopForm(deps, auth.user.id, fields, request.headers.get("idempotency-key"));
        });
        if ("snippet" in outcome) {
          set.status = 201;
          return outcome.snippet satisfies Snippet;
        }
        const { created, post } = outcome;
        set.status = post.status === "ready" ? (created ? 201 : 200) : 202;
        return { ...post, post_id: post.id, audio_url: post.audio_url };
      },
      {
        auth: true,
        rateLimit: "uploads",
        accepts: uploadBody(deps.config),
        body: UploadForm, // documents the form; the handler reads it (readUploadForm) after auth and the rate limit
        response: {
          200: UploadResponse,
          201: UploadOrSnippet,
          202: UploadResponse,
          ...UPLOAD_REFUSALS,
        },
        detail: {
          summary: "Share a loop (plugin): multipart with the file in audio_file; a chat snippet in audio",
          description:
            "Fields (all optional strings): filename, bpm, key, genre, daw, duration_seconds, duration_bars, sample_rate, " +
            "channels, recording_id (32 hex, the idempotency key), comment_audience. Also accepts an Idempotency-Key header. " +
            "Answers 201 ready, or 202 processing with the final audio_url when processing takes longer than UPLOAD_WAIT_MS; a " +
            "retried upload answers 200 with the same post. A file in the field audio (and none in audio_file) is a " +
            "direct-message snippet: stored unlisted (never a post) and answered 201 {audio_url, url, duration_seconds, format}.",
        },
      },
    )
    .get(
      "/status/:post_id",
      async ({ params, auth }) => {
        const { jobId: _job, ...status } = await getUploadStatus(deps, params.post_id, auth.user.id);
        return status;
      },
      {
        auth: true,
        params: t.Object({ post_id: t.String({ maxLength: 64 }) }),
        response: { 200: StatusResponse, 401: ErrorSchema, 404: ErrorSchema },
        detail: { summary: "Processing status of an upload, for clients that poll" },
      },
    )
    .get("/quota", ({ auth }) => uploadQuota(deps, auth.user.id), {
      auth: true,
      response: { 200: QuotaSchema, 401: ErrorSchema },
      detail: { summary: "Your upload quotas and what you have used of them (0: no limit)" },
    });
};

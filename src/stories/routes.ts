// /api/v1/stories and the highlights: the plugin's routes (src/network/api/StoriesClient.cpp) with its transport
// (docs/plugin-contract.md "Transport rules"). Its bodiless POSTs arrive as GETs, so GET /stories/{id}/view,
// GET /stories/{id}/download and GET /highlights/{id}/stories/{story_id} act as the POST/DELETE they stand for
// (a bearer token authorises them, never a cookie). Its DELETEs of a story and of a highlight arrive as GET
// /stories/{id} and GET /highlights/{id}, which are also reads. For a story, isPluginDelete (src/http/plugin-delete.ts)
// tells the plugin's delete from a read, as for posts (the plugin never reads one story). For a highlight it cannot:
// the plugin also reads one with that very request (NetworkClient::getHighlight), so that GET only ever reads.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { bodies } from "../http/body.ts";
import { ErrorSchema } from "../http/errors.ts";
import { isPluginDelete } from "../http/plugin-delete.ts";
import { receiveUpload, UPLOAD_REFUSALS, uploadBody } from "../audio/upload.ts";
import { Highlight, highlightExample, HighlightWithStories, Story, storyExample, StoryGroup, StoryViewer } from "./models.ts";
import { deleteStory, getStory, storiesFeed, storyDownload, storyViewers, userStories, viewStory } from "./service.ts";
import { uploadStoryForm } from "./upload.ts";
import { addToHighlight, createHighlight, deleteHighlight, getHighlight, listHighlights, removeFromHighlight, updateHighlight } from "./highlights.ts";
import { STORY_MAX_SECONDS } from "./process.ts";

const IdParams = t.Object({ id: t.String({ maxLength: 64 }) });
const Ok = t.Object({ ok: t.Literal(true) }, { examples: [{ ok: true }] });
const Deleted = t.Object({ ok: t.Literal(true), deleted: t.Literal(true), id: t.String() }, { examples: [{ ok: true, deleted: true, id: storyExample.id }] });
const group = {
  user_id: storyExample.user_id,
  username: "nightbeats",
  display_name: "Night Beats",
  avatar_url: "",
  has_unviewed: true,
  stories: [storyExample],
};
const Feed = t.Object(
  {
    stories: t.Array(Story, { description: "every story of the groups, in their order (the plugin groups them itself)" }),
    groups: t.Array(StoryGroup),
  },
  { examples: [{ stories: [storyExample], groups: [group] }] },
);
const UserStories = t.Object({ stories: t.Array(Story) }, { examples: [{ stories: [storyExample] }] });
const Viewed = t.Object({ ok: t.Literal(true), viewed: t.Literal(true), view_count: t.Integer() }, { examples: [{ ok: true, viewed: true, view_count: 5 }] });
const viewerExample = {
  user_id: "01934f7f-1111-7000-8000-000000000001",
  username: "loopfan",
  display_name: "Loop Fan",
  avatar_url: "",
  user: { id: "01934f7f-1111-7000-8000-000000000001", username: "loopfan", display_name: "Loop Fan", avatar_url: "" },
  viewed_at: "2026-12-05T21:30:00.000Z",
};
const Viewers = t.Object({ viewers: t.Array(StoryViewer), view_count: t.Integer() }, { examples: [{ viewers: [viewerExample], view_count: 1 }] });
const ViewersQuery = t.Object({
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 100, default: 50 })),
  offset: t.Optional(t.Numeric({ minimum: 0, maximum: 100_000, default: 0 })),
});
const Download = t.Object(
  {
    audio_url: t.String({ description: "the story's MP3, fetched without auth" }),
    audio_filename: t.String(),
    metadata: t.Object({
      story_id: t.String(),
      title: t.String(),
      producer: t.String(),
      bpm: t.Integer(),
      key: t.String(),
      duration_seconds: t.Number(),
      genres: t.Array(t.String()),
      format: t.Literal("mp3"),
    }),
  },
  {
    examples: [
      {
        audio_url: storyExample.mp3_url,
        audio_filename: "Late night sketch.mp3",
        metadata: {
          story_id: storyExample.id,
          title: "Late night sketch",
          producer: "nightbeats",
          bpm: 92,
          key: "Am",
          duration_seconds: 14.2,
          genres: ["lofi"],
          format: "mp3",
        },
      },
    ],
  },
);
const StoryForm = t.Object({
  audio: t.Optional(t.File({ description: `the story: WAV, AIFF, FLAC, MP3 or Ogg, decided by content, at most ${STORY_MAX_SECONDS - 1} s (required)` })),
  filename: t.Optional(t.String({ description: "title" })),
  bpm: t.Optional(t.String()),
  key: t.Optional(t.String()),
  genre: t.Optional(t.String({ description: "comma-separated" })),
  duration: t.Optional(t.String({ description: "the plugin's own measure (the server measures its own)" })),
  midi_data: t.Optional(t.String({ description: "a JSON object of MIDI events for the plugin's piano roll, at most 64 KiB" })),
});
const HighlightBody = t.Object({
  name: t.Optional(t.String({ maxLength: 40 })),
  description: t.Optional(t.String({ maxLength: 200 })),
  sort_order: t.Optional(t.Integer({ minimum: 0, maximum: 1000 })),
});
const AddStory = t.Object({ story_id: t.String({ minLength: 1, maxLength: 64 }) });
const Highlights = t.Object({ highlights: t.Array(Highlight) }, { examples: [{ highlights: [highlightExample] }] });
const StoryOrDeleted = t.Union([Story, Deleted], { examples: [storyExample] });
const HighlightStoryParams = t.Object({ id: t.String({ maxLength: 64 }), story_id: t.String({ maxLength: 64 }) });

const PLUGIN_DELETE_NOTE =
  "A read, except for the plugin's delete (its DELETE arrives as this GET): a bodiless GET by the owner with a bearer token, " +
  "Content-Type: application/json, no query string and no browser headers (Sec-Fetch-*, Origin, Referer, Cookie, Purpose) " +
  "deletes and answers {ok, deleted, id}. Other clients read without a Content-Type and delete with DELETE or POST …/delete.";

/** A change to one's own story or highlight: signed in, within the "stories" limit, an id in the path. */
const mine = { auth: true, rateLimit: "stories", params: IdParams } as const;
const okAnswers = { response: { 200: Ok, 401: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema } };
const viewAnswers = { response: { 200: Viewed, 401: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema } };
const viewersHook = {
  auth: true,
  params: IdParams,
  query: ViewersQuery,
  response: { 200: Viewers, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema },
} as const;
const editHook = {
  ...mine,
  parse: "json",
  body: HighlightBody,
  response: { 200: Highlight, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema },
} as const;
const takeOutHook = {
  auth: true,
  rateLimit: "stories",
  params: HighlightStoryParams,
  response: { 200: Highlight, 401: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema },
} as const;
const downloadHook = { auth: true, params: IdParams, response: { 200: Download, 401: ErrorSchema, 404: ErrorSchema } } as const;

export const storyRoutes = (deps: Deps) => {
  const removeStory = async (id: string, userId: string) => (await deleteStory(deps, id, userId), { ok: true as const });
  const removeHighlight = async (id: string, userId: string) => (await deleteHighlight(deps, userId, id), { ok: true as const });
  const viewers = (id: string, userId: string, q: { limit?: number; offset?: number }) =>
    storyViewers(deps, id, userId, { limit: q.limit ?? 50, offset: q.offset ?? 0 });
  return new Elysia({ name: "story-routes", detail: { tags: ["stories"] } })
    .use(authGuard(deps))
    .use(bodies(deps.config.BODY_MAX_BYTES))
    .get("/stories", async ({ viewer }) => (viewer ? storiesFeed(deps, viewer.user.id) : { stories: [], groups: [] }), {
      viewer: true,
      response: { 200: Feed, 401: ErrorSchema },
      detail: {
        summary: "The stories feed: live stories of everyone you follow and your own, grouped by producer (empty when signed out)",
      },
    })
    .post(
      "/stories",
      async ({ auth, request, set }) => {
        const { created, story } = await receiveUpload(deps, request, (fields) =>
          uploadStoryForm(deps, auth.user.id, fields, request.headers.get("idempotency-key")),
        );
        set.status = story.status === "ready" ? (created ? 201 : 200) : 202;
        return story;
      },
      {
        auth: true,
        rateLimit: "uploads",
        accepts: uploadBody(deps.config),
        body: StoryForm, // documents the form; the handler reads it after auth and the rate limit
        response: {
          200: Story,
          201: Story,
          202: Story,
          ...UPLOAD_REFUSALS,
        },
        detail: {
          summary: "Post a story (plugin): multipart with the file in audio; gone after 24 h unless kept in a highlight",
          description:
            `At most ${STORY_MAX_SECONDS - 1} s (422 too_long otherwise). Processed like a loop; answers 201 ready, or 202 processing ` +
            "when that takes longer than UPLOAD_WAIT_MS. Shares the loops' upload rate limit and is refused when your loops' quota is used up.",
        },
      },
    )
    .get(
      "/stories/:id",
      async ({ params, auth, request }) => {
        const story = await getStory(deps, params.id, auth.user.id);
        if (story.user_id === auth.user.id && isPluginDelete(request)) {
          await deleteStory(deps, story.id, auth.user.id);
          return { ok: true as const, deleted: true as const, id: story.id };
        }
        return story;
      },
      {
        auth: true,
        params: IdParams,
        response: { 200: StoryOrDeleted, 401: ErrorSchema, 404: ErrorSchema },
        detail: {
          summary: "One story (followers and its producer; a highlighted one for all who see the producer); the plugin's delete",
          description: PLUGIN_DELETE_NOTE,
        },
      },
    )
    .delete("/stories/:id", ({ params, auth }) => removeStory(params.id, auth.user.id), {
      ...mine,
      ...okAnswers,
      detail: { summary: "Delete your story and its media" },
    })
    .post("/stories/:id/delete", ({ params, auth }) => removeStory(params.id, auth.user.id), {
      ...mine,
      ...okAnswers,
      detail: { summary: "Delete your story and its media (POST spelling of DELETE)" },
    })
    .post("/stories/:id/view", ({ params, auth }) => viewStory(deps, params.id, auth.user.id), {
      ...mine,
      ...viewAnswers,
      detail: { summary: "Record that you heard a story (once per member; the producer's own plays do not count)" },
    })
    .get("/stories/:id/view", ({ params, auth }) => viewStory(deps, params.id, auth.user.id), {
      ...mine,
      ...viewAnswers,
      detail: { summary: "Record a view (plugin alias of the POST without a body; bearer token only)" },
    })
    .get("/stories/:id/views", ({ params, auth, query }) => viewers(params.id, auth.user.id, query), {
      ...viewersHook,
      detail: { summary: "Who viewed your story, newest first (its producer only)" },
    })
    .get("/stories/:id/viewers", ({ params, auth, query }) => viewers(params.id, auth.user.id, query), {
      ...viewersHook,
      detail: { summary: "Who viewed your story (alias of …/views)" },
    })
    .post("/stories/:id/download", ({ params, auth }) => storyDownload(deps, params.id, auth.user.id), {
      ...downloadHook,
      detail: { summary: "Save a story to the DAW folder (plugin): its MP3's URL, a file name and what it is" },
    })
    .get("/stories/:id/download", ({ params, auth }) => storyDownload(deps, params.id, auth.user.id), {
      ...downloadHook,
      detail: { summary: "Save a story to the DAW folder (the plugin's empty-body POST arrives as this GET)" },
    })
    .get("/users/:id/stories", async ({ params, auth }) => ({ stories: await userStories(deps, params.id, auth.user.id) }), {
      auth: true,
      params: IdParams,
      response: { 200: UserStories, 401: ErrorSchema },
      detail: { summary: "A producer's live stories, oldest first (empty unless you follow them or are them)" },
    })
    .get("/users/:id/highlights", async ({ params, auth }) => ({ highlights: await listHighlights(deps, params.id, auth.user.id) }), {
      auth: true,
      params: IdParams,
      response: { 200: Highlights, 401: ErrorSchema },
      detail: { summary: "A producer's highlights in their order (the plugin's profile)" },
    })
    .post("/highlights", async ({ auth, body, set }) => ((set.status = 201), createHighlight(deps, auth.user.id, body)), {
      auth: true,
      rateLimit: "stories",
      parse: "json",
      body: HighlightBody,
      response: { 201: Highlight, 400: ErrorSchema, 401: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema },
      detail: { summary: "Create a highlight {name, description?}" },
    })
    .get("/highlights/:id", ({ params, auth }) => getHighlight(deps, params.id, auth.user.id), {
      auth: true,
      params: IdParams,
      response: { 200: HighlightWithStories, 401: ErrorSchema, 404: ErrorSchema },
      detail: {
        summary: "One highlight with its stories (always a read: see the description)",
        description:
          "The plugin's deleteHighlight arrives as this same GET, and so does its getHighlight: the two cannot be told apart, " +
          "so this GET never deletes (opening a highlight must not lose it). Delete with DELETE or POST /highlights/{id}/delete.",
      },
    })
    .put("/highlights/:id", ({ params, auth, body }) => updateHighlight(deps, auth.user.id, params.id, body), {
      ...editHook,
      detail: { summary: "Rename, re-describe or move your highlight (empty fields stay as they are)" },
    })
    .post("/highlights/:id", ({ params, auth, body }) => updateHighlight(deps, auth.user.id, params.id, body), {
      ...editHook,
      detail: { summary: "Update your highlight (the plugin's PUT arrives as this POST)" },
    })
    .delete("/highlights/:id", ({ params, auth }) => removeHighlight(params.id, auth.user.id), {
      ...mine,
      ...okAnswers,
      detail: { summary: "Delete your highlight (its expired stories go with it unless another highlight keeps them)" },
    })
    .post("/highlights/:id/delete", ({ params, auth }) => removeHighlight(params.id, auth.user.id), {
      ...mine,
      ...okAnswers,
      detail: { summary: "Delete your highlight (POST spelling of DELETE)" },
    })
    .post("/highlights/:id/stories", ({ params, auth, body }) => addToHighlight(deps, auth.user.id, params.id, body.story_id), {
      ...mine,
      parse: "json",
      body: AddStory,
      response: { 200: Highlight, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema },
      detail: { summary: "Keep one of your stories in your highlight {story_id} (it then outlives its 24 h)" },
    })
    .delete("/highlights/:id/stories/:story_id", ({ params, auth }) => removeFromHighlight(deps, auth.user.id, params.id, params.story_id), {
      ...takeOutHook,
      detail: { summary: "Take a story out of your highlight (an expired story no highlight keeps is deleted)" },
    })
    .get("/highlights/:id/stories/:story_id", ({ params, auth }) => removeFromHighlight(deps, auth.user.id, params.id, params.story_id), {
      ...takeOutHook,
      detail: { summary: "Take a story out of your highlight (the plugin's DELETE arrives as this GET; bearer token only)" },
    });
};

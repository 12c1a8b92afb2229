// Plays over HTTP: the plugin's POST /social/play {activity_id} is an alias of POST /posts/{id}/play. A play counts
// once per listener per post per 30 minutes (PLAY_WINDOW_MS); repeats answer counted:false with the same count.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { postIdOfActivity } from "./activity.ts";
import { MAX_LISTEN_SECONDS, recordListenDuration, recordPlay } from "./plays.ts";

const PlayResult = t.Object(
  {
    play_count: t.Integer({ description: "the post's counted plays" }),
    counted: t.Boolean({ description: "false when this listener's play of the post was counted in the last 30 minutes" }),
  },
  { examples: [{ play_count: 11, counted: true }] },
);
const ListenResult = t.Object(
  { ok: t.Literal(true), recorded: t.Boolean({ description: "false when there was no play of yours to attach it to" }) },
  { examples: [{ ok: true, recorded: true }] },
);
const ActivityBody = t.Object({ activity_id: t.String({ minLength: 1, maxLength: 80, description: 'the post id, or its object "loop:<id>"' }) });
const ListenBody = t.Object({
  activity_id: t.String({ minLength: 1, maxLength: 80, description: 'the post id, or "loop:<id>"' }),
  duration: t.Number({ minimum: 0, maximum: MAX_LISTEN_SECONDS, description: "seconds listened" }),
});
const IdParams = t.Object({ id: t.String({ maxLength: 64 }) });
// The plugin's NetworkClient::trackRecommendationClick (src/network/api/FeedClient.cpp) on every play: post_id,
// source, position, completed and, when known, play_duration. No recommender here learns from it; the play itself
// is counted by /social/play.
const ClickBody = t.Object({
  post_id: t.String({ minLength: 1, maxLength: 80, description: 'the post id, or "loop:<id>"' }),
  source: t.Optional(t.String({ maxLength: 64, description: "the feed the play came from" })),
  position: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000 })),
  completed: t.Optional(t.Boolean()),
  play_duration: t.Optional(t.Number({ minimum: 0, maximum: MAX_LISTEN_SECONDS })),
});
const Ok = t.Object({ ok: t.Literal(true) }, { examples: [{ ok: true }] });
const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema };

export const playRoutes = (deps: Deps) => {
  const play = (userId: string, postId: string) => recordPlay(deps, userId, postId);

  return (
    new Elysia({ name: "play-routes", detail: { tags: ["plays"] } })
      .use(authGuard(deps))
      .post("/social/play", ({ auth, body }) => play(auth.user.id, postIdOfActivity(body.activity_id)), {
        auth: true,
        rateLimit: "plays",
        parse: "json",
        body: ActivityBody,
        response: { 200: PlayResult, ...errorResponses },
        detail: { summary: "Count a play of a post (plugin); once per listener per post per 30 minutes" },
      })
      .post("/posts/:id/play", ({ auth, params }) => play(auth.user.id, params.id), {
        auth: true,
        rateLimit: "plays",
        params: IdParams,
        response: { 200: PlayResult, ...errorResponses },
        detail: { summary: "Count a play of a post; once per listener per post per 30 minutes" },
      })
      // The handler names `body` so Elysia parses and validates it (it skips both for a handler that never reads it).
      .post("/recommendations/click", ({ body }) => (void body.post_id, { ok: true as const }), {
        auth: true,
        parse: "json",
        body: ClickBody,
        response: { 200: Ok, 400: ErrorSchema, 401: ErrorSchema },
        detail: { summary: "A play from a feed (plugin, on every play): acknowledged; plays are counted by /social/play" },
      })
      .post(
        "/social/listen-duration",
        async ({ auth, body }) => {
          const { recorded } = await recordListenDuration(deps, auth.user.id, postIdOfActivity(body.activity_id), body.duration);
          return { ok: true as const, recorded };
        },
        {
          auth: true,
          rateLimit: "plays",
          parse: "json",
          body: ListenBody,
          response: { 200: ListenResult, ...errorResponses },
          detail: { summary: "Report how long you listened to a post (plugin); kept on your latest play of it" },
        },
      )
  );
};

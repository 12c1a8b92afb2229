// Reactions over HTTP. The plugin's POST /feed/like and /feed/unlike are aliases of the REST routes
// PUT/DELETE /posts/{id}/reaction (one implementation); POST /posts/{id}/reaction is the PUT for clients that
// cannot send PUT (docs/plugin-contract.md "Transport rules"). All are idempotent: the plugin retries on any error.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { postIdOfActivity } from "./activity.ts";
import { DEFAULT_REACTION, REACTION_EMOJI, removeReaction, requireEmoji, setReaction } from "./reactions.ts";

const ReactionState = t.Object(
  {
    like_count: t.Integer({ description: "reactions on the post, every emoji" }),
    is_liked: t.Boolean({ description: "the viewer has a reaction on the post" }),
    reaction_counts: t.Record(t.String(), t.Integer(), { description: "reactions per emoji" }),
    user_reaction: t.String({ description: 'the viewer\'s emoji, or ""' }),
  },
  { examples: [{ like_count: 3, is_liked: true, reaction_counts: { "🔥": 2, "❤️": 1 }, user_reaction: "🔥" }] },
);

const emojiDoc = `one of ${REACTION_EMOJI.join(" ")} (with or without a variation selector)`;
const LikeBody = t.Object({
  activity_id: t.String({ minLength: 1, maxLength: 80, description: 'the post id, or its object "loop:<id>"' }),
  emoji: t.Optional(t.String({ maxLength: 32, description: `${emojiDoc}; absent or "" means ❤️` })),
});
const UnlikeBody = t.Object({ activity_id: t.String({ minLength: 1, maxLength: 80, description: 'the post id, or "loop:<id>"' }) });
const ReactionBody = t.Object({ emoji: t.String({ maxLength: 32, description: emojiDoc }) });
const IdParams = t.Object({ id: t.String({ maxLength: 64 }) });
const errorResponses = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 429: ErrorSchema };

export const reactionRoutes = (deps: Deps) => {
  const react = (userId: string, postId: string, emoji: string) => setReaction(deps, userId, postId, requireEmoji(emoji));
  const unreact = (userId: string, postId: string) => removeReaction(deps, userId, postId);
  const putDoc = {
    auth: true,
    rateLimit: "reactions",
    params: IdParams,
    parse: "json",
    body: ReactionBody,
    response: { 200: ReactionState, ...errorResponses },
  } as const;

  return new Elysia({ name: "reaction-routes", detail: { tags: ["reactions"] } })
    .use(authGuard(deps))
    .post("/feed/like", ({ auth, body }) => react(auth.user.id, postIdOfActivity(body.activity_id), body.emoji || DEFAULT_REACTION), {
      auth: true,
      rateLimit: "reactions",
      parse: "json",
      body: LikeBody,
      response: { 200: ReactionState, ...errorResponses },
      detail: { summary: "React to a post (plugin); no emoji means ❤️, a new emoji replaces yours" },
    })
    .post("/feed/unlike", ({ auth, body }) => unreact(auth.user.id, postIdOfActivity(body.activity_id)), {
      auth: true,
      rateLimit: "reactions",
      parse: "json",
      body: UnlikeBody,
      response: { 200: ReactionState, ...errorResponses },
      detail: { summary: "Remove your reaction from a post (plugin)" },
    })
    .put("/posts/:id/reaction", ({ auth, params, body }) => react(auth.user.id, params.id, body.emoji), {
      ...putDoc,
      detail: { summary: "Set your reaction on a post (replaces your previous emoji)" },
    })
    .post("/posts/:id/reaction", ({ auth, params, body }) => react(auth.user.id, params.id, body.emoji), {
      ...putDoc,
      detail: { summary: "Set your reaction on a post (alias of PUT for clients that cannot send PUT)" },
    })
    .delete("/posts/:id/reaction", ({ auth, params }) => unreact(auth.user.id, params.id), {
      auth: true,
      rateLimit: "reactions",
      params: IdParams,
      response: { 200: ReactionState, ...errorResponses },
      detail: { summary: "Remove your reaction from a post" },
    });
};

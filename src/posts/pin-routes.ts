// Pinning loops to one's profile over HTTP (docs/plugin-contract.md "Pinned loops"), by the plugin's paths (its
// SocialClient): pin is a POST without a body and unpin a DELETE, and both arrive as `GET /posts/{id}/pin`, which
// therefore toggles; POST and DELETE do what they say for other clients. The plugin's `PUT /posts/{id}/pin-order
// {order}` has a body, so it arrives as POST. `GET /posts/{id}/pinned` answers for anyone who may see the loop, and
// `GET /users/{id}/pinned` lists a producer's pinned loops in their order.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { blockedBetween } from "../social/block-states.ts";
import { enrichPosts } from "./enrich.ts";
import { Post, postExample } from "./models.ts";
import { MAX_PINS, pinnedPosts, pinPost, pinState, setPinOrder, togglePin, unpinPost } from "./pins.ts";
import { findVisiblePost } from "./service.ts";

const Params = t.Object({ id: t.String({ minLength: 1, maxLength: 64, description: "the loop's id" }) });
const State = t.Object(
  {
    is_pinned: t.Boolean({ description: "whether the loop is pinned to its producer's profile" }),
    pin_order: t.Integer({ description: `its place among the pinned loops, 1 to ${MAX_PINS}; 0 when not pinned` }),
  },
  { examples: [{ is_pinned: true, pin_order: 1 }] },
);
const errs = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };
const own = { auth: true, rateLimit: "pins", params: Params, response: { 200: State, ...errs, 429: ErrorSchema } } as const;

const order = {
  ...own,
  parse: "json",
  body: t.Object({ order: t.Integer({ description: "the new place, 1 to the number pinned" }) }, { examples: [{ order: 1 }] }),
} as const;

export const pinRoutes = (deps: Deps) =>
  new Elysia({ name: "pin-routes", detail: { tags: ["posts"] } })
    .use(authGuard(deps))
    .get("/posts/:id/pin", ({ params, auth }) => togglePin(deps, auth.user.id, params.id), {
      ...own,
      detail: {
        summary: "Pin your loop to your profile, or unpin it when pinned (the plugin's pin and unpin both arrive as this GET)",
        description: `A toggle because the plugin sends its bodiless POST (pin) and its DELETE (unpin) as GET. At most ${MAX_PINS}.`,
      },
    })
    .post("/posts/:id/pin", ({ params, auth }) => pinPost(deps, auth.user.id, params.id), {
      ...own,
      detail: { summary: `Pin your loop to your profile (idempotent; at most ${MAX_PINS}, 409 pin_limit after)` },
    })
    .delete("/posts/:id/pin", ({ params, auth }) => unpinPost(deps, auth.user.id, params.id), {
      ...own,
      detail: { summary: "Unpin your loop (idempotent); the ones after it move up" },
    })
    .post("/posts/:id/pin-order", ({ params, auth, body }) => setPinOrder(deps, auth.user.id, params.id, body.order), {
      ...order,
      detail: { summary: "Move a pinned loop to another place (the plugin's PUT, which arrives as POST; PUT works too)" },
    })
    .put("/posts/:id/pin-order", ({ params, auth, body }) => setPinOrder(deps, auth.user.id, params.id, body.order), {
      ...order,
      detail: { summary: "Move a pinned loop to another place" },
    })
    .get(
      "/posts/:id/pinned",
      async ({ params, viewer }) => {
        if (!(await findVisiblePost(deps, params.id, viewer?.user.id ?? null))) throw errors.notFound("post_not_found", "No such post");
        return pinState(deps, params.id);
      },
      { viewer: true, params: Params, response: { 200: State, 404: ErrorSchema }, detail: { summary: "Whether the loop is pinned, and where" } },
    )
    .get(
      "/users/:id/pinned",
      async ({ params, viewer }) => {
        const viewerId = viewer?.user.id ?? null;
        // Someone the viewer blocks or is blocked by: the answer for an unknown id (README "Blocking and muting").
        if (viewerId && (await blockedBetween(deps.database.db, viewerId, params.id))) return { posts: [] };
        return { posts: await enrichPosts(deps, await pinnedPosts(deps, params.id), viewerId) };
      },
      {
        viewer: true,
        params: t.Object({ id: t.String({ minLength: 1, maxLength: 64, description: "the producer's id" }) }),
        response: { 200: t.Object({ posts: t.Array(Post) }, { examples: [{ posts: [postExample] }] }), 400: ErrorSchema },
        detail: { summary: "A producer's pinned loops, in their order (what their profile shows first)" },
      },
    );

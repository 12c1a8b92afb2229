// Follows over HTTP: the plugin's body routes (POST /social/follow, /social/unfollow) and their REST forms
// (PUT/DELETE /users/{id}/follow), which call the same service; and the followers/following lists.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { PageMeta, PageQuery, pageOf, parsePage, type Page } from "../http/pagination.ts";
import { blockedAmong, blockedBetween } from "./block-states.ts";
import { PublicUser } from "../users/models.ts";
import { toPublicUser, viewerExtras } from "../users/service.ts";
import { followUser, listFollowers, listFollowing, unfollowUser, type FollowList, type FollowOutcome } from "./follows.ts";

const IdParams = t.Object({ id: t.String({ maxLength: 64 }) });
const TargetBody = t.Object(
  { target_user_id: t.String({ minLength: 1, maxLength: 64, description: "the id of the user to follow or unfollow" }) },
  { examples: [{ target_user_id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e" }] },
);
const Followed = t.Object(
  { is_following: t.Boolean(), follower_count: t.Integer({ description: "the followee's follower count after the call" }) },
  { examples: [{ is_following: true, follower_count: 13 }] },
);
const Unfollowed = t.Object(
  { is_following: t.Boolean(), follower_count: t.Integer({ description: "the followee's follower count after the call" }) },
  { examples: [{ is_following: false, follower_count: 12 }] },
);
const UserList = t.Object(
  { users: t.Array(PublicUser), meta: PageMeta, total: t.Integer(), has_more: t.Boolean() },
  { examples: [{ users: PublicUser.examples, meta: { count: 1, has_more: false, next_cursor: "" }, total: 1, has_more: false }] },
);

const mutationErrors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema };

export const followRoutes = (deps: Deps) => {
  const follow = async (userId: string, targetId: string, set: { status?: unknown }) => {
    const r = await followUser(deps, userId, targetId);
    // 201 when this call created the follow, 200 for a repeat (the plugin reads the body either way).
    set.status = r.changed ? 201 : 200;
    return shape(r);
  };
  const unfollow = async (userId: string, targetId: string) => {
    const r = await unfollowUser(deps, userId, targetId);
    return shape(r);
  };

  const list = async (userId: string, listing: (page: Page) => Promise<FollowList>, page: Page, viewerId: string | null) => {
    // Someone the viewer blocks or is blocked by: the 404 of an unknown user (README "Blocking and muting").
    if (viewerId && (await blockedBetween(deps.database.db, viewerId, userId))) throw errors.notFound("user_not_found", "No such user");
    const { rows, total } = await listing(page);
    const { items: all, meta } = pageOf(rows, page, (r) => ({ createdAt: r.followedAt, id: r.user.id }));
    // People the viewer blocks or is blocked by are left out of anyone's lists (the page's meta stays, as in feeds).
    const hidden = await blockedAmong(
      deps,
      viewerId,
      all.map((r) => r.user.id),
    );
    const items = hidden.size ? all.filter((r) => !hidden.has(r.user.id)) : all;
    meta.count = items.length;
    // One query for the viewer's follow state towards the whole page.
    const states = await viewerExtras(
      deps,
      viewerId,
      items.map((r) => r.user.id),
    );
    return { users: items.map((r) => toPublicUser(deps, r.user, states.get(r.user.id))), meta, total, has_more: meta.has_more };
  };

  return new Elysia({ name: "follow-routes", detail: { tags: ["social"] } })
    .use(authGuard(deps))
    .post("/social/follow", ({ body, auth, set }) => follow(auth.user.id, body.target_user_id, set), {
      auth: true,
      rateLimit: "follows",
      parse: "json",
      body: TargetBody,
      response: { 200: Followed, 201: Followed, ...mutationErrors },
      detail: { summary: "Follow a user (plugin); idempotent, following yourself is 400" },
    })
    .post("/social/unfollow", ({ body, auth }) => unfollow(auth.user.id, body.target_user_id), {
      auth: true,
      rateLimit: "follows",
      parse: "json",
      body: TargetBody,
      response: { 200: Unfollowed, ...mutationErrors },
      detail: { summary: "Unfollow a user (plugin); idempotent" },
    })
    .put("/users/:id/follow", ({ params, auth, set }) => follow(auth.user.id, params.id, set), {
      auth: true,
      rateLimit: "follows",
      params: IdParams,
      response: { 200: Followed, 201: Followed, ...mutationErrors },
      detail: { summary: "Follow a user; idempotent (201 when created, 200 when already following)" },
    })
    .delete("/users/:id/follow", ({ params, auth }) => unfollow(auth.user.id, params.id), {
      auth: true,
      rateLimit: "follows",
      params: IdParams,
      response: { 200: Unfollowed, ...mutationErrors },
      detail: { summary: "Unfollow a user; idempotent" },
    })
    .get(
      "/users/:id/followers",
      ({ params, query, viewer }) => {
        const page = parsePage(query);
        return list(params.id, (p) => listFollowers(deps, params.id, p), page, viewer?.user.id ?? null);
      },
      {
        viewer: true,
        params: IdParams,
        query: PageQuery,
        response: { 200: UserList, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema },
        detail: { summary: "Who follows a user, most recent first (limit, offset or cursor); is_following/follows_you for the viewer" },
      },
    )
    .get(
      "/users/:id/following",
      ({ params, query, viewer }) => {
        const page = parsePage(query);
        return list(params.id, (p) => listFollowing(deps, params.id, p), page, viewer?.user.id ?? null);
      },
      {
        viewer: true,
        params: IdParams,
        query: PageQuery,
        response: { 200: UserList, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema },
        detail: { summary: "Whom a user follows, most recently followed first (limit, offset or cursor)" },
      },
    );
};

function shape(r: FollowOutcome) {
  return { is_following: r.is_following, follower_count: r.follower_count };
}

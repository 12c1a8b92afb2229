// Blocking and muting over HTTP (docs/plugin-contract.md "Blocking and muting"): the plugin's body routes, shaped
// like the follow routes (POST /social/block, /social/unblock, /social/mute, /social/unmute with {target_user_id}),
// idempotent, answering the new state; and the signed-in user's own lists (GET /social/blocks, /social/mutes). Also
// the plugin's mute routes by path (its SocialClient: /users/{id}/mute, /users/{id}/muted, /users/me/muted), where
// mute and unmute both arrive as GET and toggle.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { PageMeta, PageQuery, pageOf, parsePage, type Page } from "../http/pagination.ts";
import { PublicUser } from "../users/models.ts";
import { toPublicUser, viewerExtras } from "../users/service.ts";
import { blockUser, isMuting, listBlocked, listMuted, muteUser, toggleMute, unblockUser, unmuteUser, type HideListRow } from "./blocks.ts";

const TargetBody = t.Object(
  { target_user_id: t.String({ minLength: 1, maxLength: 64, description: "the id of the user" }) },
  { examples: [{ target_user_id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e" }] },
);
const Blocked = t.Object({ is_blocking: t.Boolean({ description: "whether you block the user after the call" }) }, { examples: [{ is_blocking: true }] });
const Unblocked = t.Object({ is_blocking: t.Boolean({ description: "whether you block the user after the call" }) }, { examples: [{ is_blocking: false }] });
const Muted = t.Object({ is_muting: t.Boolean({ description: "whether you mute the user after the call" }) }, { examples: [{ is_muting: true }] });
const Unmuted = t.Object({ is_muting: t.Boolean({ description: "whether you mute the user after the call" }) }, { examples: [{ is_muting: false }] });
const UserList = t.Object(
  { users: t.Array(PublicUser), meta: PageMeta },
  { examples: [{ users: PublicUser.examples, meta: { count: 1, has_more: false, next_cursor: "" } }] },
);

const IdParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64, description: "the user's id" }) });
const MutedState = t.Object({ is_muted: t.Boolean({ description: "whether you mute the user" }) }, { examples: [{ is_muted: true }] });
const mutationErrors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema };
const mutation = { auth: true, rateLimit: "blocks", parse: "json", body: TargetBody } as const;

export const blockRoutes = (deps: Deps) => {
  const list = async (rows: Promise<HideListRow[]>, page: Page, viewerId: string) => {
    const { items, meta } = pageOf(await rows, page, (r) => ({ createdAt: r.since, id: r.user.id }));
    const states = await viewerExtras(
      deps,
      viewerId,
      items.map((r) => r.user.id),
    );
    return { users: items.map((r) => toPublicUser(deps, r.user, states.get(r.user.id))), meta };
  };

  const listed = (rows: typeof listBlocked, query: Record<string, unknown>, viewerId: string) => {
    const page = parsePage(query as Parameters<typeof parsePage>[0]);
    return list(rows(deps, viewerId, page), page, viewerId);
  };
  const listing = (summary: string) => ({
    auth: true as const,
    query: PageQuery,
    response: { 200: UserList, 400: ErrorSchema, 401: ErrorSchema },
    detail: { summary },
  });

  return new Elysia({ name: "block-routes", detail: { tags: ["social"] } })
    .use(authGuard(deps))
    .post(
      "/social/block",
      async ({ body, auth, set }) => {
        const r = await blockUser(deps, auth.user.id, body.target_user_id);
        set.status = r.changed ? 201 : 200;
        return { is_blocking: r.is_blocking };
      },
      {
        ...mutation,
        response: { 200: Blocked, 201: Blocked, ...mutationErrors },
        detail: {
          summary: "Block a user; idempotent (201 when created, 200 when already blocked), blocking yourself is 400",
          description:
            "Hides the two from each other everywhere (feeds, profiles, loops, presence, notifications, WebSocket events), " +
            "removes the follows both ways with exact counts, and deletes the notifications between them.",
        },
      },
    )
    .post(
      "/social/unblock",
      async ({ body, auth }) => {
        const r = await unblockUser(deps, auth.user.id, body.target_user_id);
        return { is_blocking: r.is_blocking };
      },
      {
        ...mutation,
        response: { 200: Unblocked, ...mutationErrors },
        detail: { summary: "Unblock a user; idempotent (follows and notifications removed by the block do not come back)" },
      },
    )
    .post(
      "/social/mute",
      async ({ body, auth, set }) => {
        const r = await muteUser(deps, auth.user.id, body.target_user_id);
        set.status = r.changed ? 201 : 200;
        return { is_muting: r.is_muting };
      },
      {
        ...mutation,
        response: { 200: Muted, 201: Muted, ...mutationErrors },
        detail: {
          summary: "Mute a user: their loops leave your feeds; idempotent (201 when created, 200 when already muted)",
          description: "The follow stays, their profile and loop pages stay visible to you, and they are not told.",
        },
      },
    )
    .post(
      "/social/unmute",
      async ({ body, auth }) => {
        const r = await unmuteUser(deps, auth.user.id, body.target_user_id);
        return { is_muting: r.is_muting };
      },
      {
        ...mutation,
        response: { 200: Unmuted, ...mutationErrors },
        detail: { summary: "Unmute a user; idempotent" },
      },
    )
    .get(
      "/social/blocks",
      ({ query, auth }) => listed(listBlocked, query, auth.user.id),
      listing("The users you block, most recently blocked first (limit, offset or cursor)"),
    )
    .get(
      "/users/me/muted",
      ({ query, auth }) => listed(listMuted, query, auth.user.id),
      listing("The users you mute (the plugin's path for GET /social/mutes)"),
    )
    .get("/users/:id/mute", async ({ params, auth }) => ({ is_muting: (await toggleMute(deps, auth.user.id, params.id)).is_muting }), {
      auth: true,
      rateLimit: "blocks",
      params: IdParams,
      response: { 200: Muted, ...mutationErrors },
      detail: {
        summary: "Mute the user, or unmute when already muting (the plugin's mute and unmute both arrive as this GET)",
        description: "A toggle because the plugin sends its bodiless POST (mute) and its DELETE (unmute) as GET. Answers the new state.",
      },
    })
    .post("/users/:id/mute", async ({ params, auth }) => ({ is_muting: (await muteUser(deps, auth.user.id, params.id)).is_muting }), {
      auth: true,
      rateLimit: "blocks",
      params: IdParams,
      response: { 200: Muted, ...mutationErrors },
      detail: { summary: "Mute the user (idempotent); other clients may use this and DELETE" },
    })
    .delete("/users/:id/mute", async ({ params, auth }) => ({ is_muting: (await unmuteUser(deps, auth.user.id, params.id)).is_muting }), {
      auth: true,
      rateLimit: "blocks",
      params: IdParams,
      response: { 200: Unmuted, ...mutationErrors },
      detail: { summary: "Unmute the user (idempotent)" },
    })
    .get("/users/:id/muted", async ({ params, auth }) => ({ is_muted: await isMuting(deps, auth.user.id, params.id) }), {
      auth: true,
      params: IdParams,
      response: { 200: MutedState, 401: ErrorSchema, 404: ErrorSchema },
      detail: { summary: "Whether you mute the user" },
    })
    .get(
      "/social/mutes",
      ({ query, auth }) => listed(listMuted, query, auth.user.id),
      listing("The users you mute, most recently muted first (limit, offset or cursor)"),
    );
};

// HTTP presence (docs/plugin-contract.md "Presence"), and the WebSocket path answering plain HTTP. The WebSocket itself is
// upgraded in index.ts before the app (Bun.serve's server.upgrade), see protocol.ts for the protocol.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema, errors } from "../http/errors.ts";
import { followingPresence, offlineView, seesPresenceOf } from "./presence.ts";
import { WS_PATH } from "./hub.ts";

const presenceExample = {
  user_id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
  is_online: true,
  is_in_studio: true,
  status: "in_studio",
  daw: "Ableton Live",
  last_active: "2026-11-25T21:00:00.000Z",
};

const presenceFields = {
  user_id: t.String(),
  is_online: t.Boolean(),
  is_in_studio: t.Boolean(),
  status: t.Union([t.Literal("online"), t.Literal("in_studio"), t.Literal("away"), t.Literal("offline")]),
  daw: t.String({ description: 'the DAW the user is in (with status "in_studio"), otherwise ""' }),
  last_active: t.Union([t.String({ format: "date-time" }), t.Null()]),
};

export const PresenceSchema = t.Object(presenceFields, { examples: [presenceExample] });

const FollowingPresence = t.Object(
  {
    users: t.Array(t.Object({ ...presenceFields, username: t.String(), display_name: t.String(), avatar_url: t.String() }), {
      description: "people you follow who are online now: in the studio first, then online, then away; newest activity first",
    }),
    online_count: t.Integer(),
    in_studio_count: t.Integer(),
  },
  {
    examples: [
      {
        users: [{ ...presenceExample, username: "nightbeats", display_name: "Night Beats", avatar_url: "" }],
        online_count: 1,
        in_studio_count: 1,
      },
    ],
  },
);

export const realtimeRoutes = (deps: Deps) =>
  new Elysia({ name: "realtime-routes", detail: { tags: ["realtime"] } })
    .use(authGuard(deps))
    .get(
      "/users/:id/presence",
      async ({ params, viewer }) => {
        const [v, sees] = await Promise.all([
          deps.presence.view([params.id]).then((m) => m.get(params.id)),
          seesPresenceOf(deps, viewer?.user.id ?? null, params.id),
        ]);
        if (!v) throw errors.notFound("user_not_found", "No such user");
        // The same audience as the WebSocket's presence frames: anyone else (anonymous included) gets offline.
        return sees ? v : offlineView(params.id);
      },
      {
        viewer: true,
        params: t.Object({ id: t.String({ maxLength: 64 }) }),
        response: { 200: PresenceSchema, 401: ErrorSchema, 404: ErrorSchema },
        detail: {
          summary: "A user's presence, as the user and their followers see it",
          description:
            "The user themself and the people who follow them (signed in) get the live presence, offline for a user who hides their activity status. " +
            "Everyone else, anonymous callers included, gets the same fields saying offline (last_active null).",
        },
      },
    )
    .get("/presence/following", ({ auth }) => followingPresence(deps, auth.user.id), {
      auth: true,
      response: { 200: FollowingPresence, 401: ErrorSchema },
      detail: { summary: "Who among the people you follow is online or in the studio now" },
    })
    // Reached only without an Upgrade header (index.ts upgrades real WebSocket requests before the app).
    .get(
      WS_PATH.replace(/^\/api\/v1/, ""),
      () =>
        new Response(
          JSON.stringify({ error: "upgrade_required", message: "This is the WebSocket endpoint: connect with a WebSocket client and ?token=<access token>" }),
          {
            status: 426,
            headers: { "content-type": "application/json", upgrade: "websocket" },
          },
        ),
      {
        query: t.Object({
          token: t.Optional(
            t.String({ description: "the access token (or an Authorization: Bearer header), or the web app's single-use ticket from POST /web/ws-token" }),
          ),
          client: t.Optional(
            t.String({
              description:
                'what the client is, e.g. "web"; "plugin" (or the plugin\'s own connection, which sends no parameter) puts the user in_studio while connected',
            }),
          ),
        }),
        detail: {
          summary: "The WebSocket: live events and presence (upgrade required)",
          description:
            "Connect with a WebSocket client to `/api/v1/ws?token=<access token>`. Frames are JSON `{type, payload, timestamp}`. " +
            "Client → server: `heartbeat` (answered with `pong`), `presence` `{status: online|in_studio|away, daw}`, `watch`/`unwatch` `{post_ids}`. " +
            "Server → client: `new_post` `{id, author, post}`, `post_liked`/`post_unliked` `{post_id, like_count, reaction_counts}`, " +
            "`follow` `{followee_id, follower_id, follower_count}`, `unfollow` (same payload, followed by `follower_count_update` " +
            "with it), `notification`, `presence` (top-level `user_id, is_online, is_in_studio, status, last_active`), " +
            "`error` (top-level `message`). Close codes: 1001 server_shutdown, 4000 idle_timeout, 4001 session_revoked, 4008 " +
            "too_many_connections, 4029 rate_limited. " +
            "The plugin's own connection (websocketpp's User-Agent, no Origin, no `client` parameter) or `?client=plugin` makes " +
            "the user `in_studio` while it is open; " +
            "other clients say what they are (`?client=web`) and are `online`; a `presence` frame still wins. " +
            "An invalid, expired or revoked token is refused with 401 before the upgrade; a plain GET answers 426. " +
            "The web app's ticket (POST /web/ws-token) is taken once, within 60 s, from this server's own pages only (403 otherwise).",
          responses: {
            101: { description: "Switching Protocols: the WebSocket is open" },
            401: { description: "No valid token", content: { "application/json": { schema: ErrorSchema } } },
            403: { description: "A web app ticket from another origin", content: { "application/json": { schema: ErrorSchema } } },
            426: {
              description: "Not a WebSocket upgrade request",
              content: { "application/json": { schema: ErrorSchema, example: { error: "upgrade_required", message: "This is the WebSocket endpoint" } } },
            },
          },
        },
      },
    );

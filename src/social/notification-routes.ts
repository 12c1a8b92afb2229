// Notifications over HTTP, plus an answer the plugin asks for at start-up for a feature this server does not have
// (follow requests): it must succeed with an empty result, never an error.
import { Elysia, t } from "elysia";
import { authGuard } from "../auth/guard.ts";
import type { Deps } from "../deps.ts";
import { ErrorSchema } from "../http/errors.ts";
import { PageMeta, PageQuery, pageOf, parsePage } from "../http/pagination.ts";
import { PublicUser } from "../users/models.ts";
import { groupNotifications, listNotifications, markNotifications, notificationCounts } from "./notifications.ts";

const actorExample = {
  id: "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e",
  username: "nightbeats",
  display_name: "Night Beats",
  bio: "",
  avatar_url: "",
  location: "",
  genre: "Lo-fi",
  daw: "Ableton Live",
  website: "",
  social_links: {},
  follower_count: 12,
  following_count: 3,
  post_count: 7,
  is_following: true,
  follows_you: true,
  is_online: false,
  is_in_studio: false,
  last_active: null,
  created_at: "2026-11-25T10:00:00.000Z",
};
const notificationExample = {
  id: "01934f90-0000-7000-8000-000000000001",
  kind: "reaction" as const,
  actor_id: actorExample.id,
  actor: actorExample,
  post_id: "01934f80-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
  comment_id: "",
  emoji: "🔥",
  message: "Night Beats reacted 🔥 to “Midnight chords”",
  created_at: "2026-11-25T21:05:00.000Z",
  is_seen: false,
  is_read: false,
};

const Notification = t.Object({
  id: t.String(),
  kind: t.Union(
    [t.Literal("follow"), t.Literal("reaction"), t.Literal("new_post"), t.Literal("comment"), t.Literal("reply"), t.Literal("mention"), t.Literal("repost")],
    {
      description: "comment = on your loop, reply = to your comment, mention = @you in a comment, repost = someone reposted your loop",
    },
  ),
  actor_id: t.String(),
  actor: PublicUser,
  post_id: t.String({ description: 'the post reacted to, published or commented on; "" for a follow' }),
  comment_id: t.String({ description: 'the comment of a comment, reply or mention; "" otherwise' }),
  emoji: t.String({ description: 'the reaction\'s emoji; "" for other kinds' }),
  message: t.String({ description: "ready-to-show text" }),
  created_at: t.String({ format: "date-time" }),
  is_seen: t.Boolean(),
  is_read: t.Boolean(),
});
// The plugin's shape (src/models/Notification.h): the same page, grouped by verb and target (groupNotifications).
const NotificationGroup = t.Object({
  id: t.String({ description: "the newest notification of the group" }),
  group_id: t.String({ description: "verb:target_id" }),
  verb: t.Union([t.Literal("follow"), t.Literal("like"), t.Literal("post"), t.Literal("comment"), t.Literal("mention"), t.Literal("repost")], {
    description: "like = a reaction of any emoji; post = a producer you follow posted; comment = on your loop or a reply to your comment",
  }),
  actor_ids: t.Array(t.String(), { minItems: 1, description: "newest first" }),
  actor_usernames: t.Array(t.String()),
  actor_avatar_urls: t.Array(t.String({ description: '"" without a picture' })),
  actor_count: t.Integer({ minimum: 1 }),
  target_type: t.Union([t.Literal("user"), t.Literal("post"), t.Literal("comment")]),
  target_id: t.String({ description: "the post, your own user id for follows, your comment replied to, or the comment mentioning you" }),
  post_id: t.String({ description: 'the loop the group is about; "" for follows' }),
  target_preview: t.String({ description: 'the post\'s title; "" for follows' }),
  content_text: t.String({ description: "the newest reaction's emoji or comment's text; \"\" otherwise" }),
  is_read: t.Boolean({ description: "every notification of the group is read" }),
  is_seen: t.Boolean(),
  created_at: t.String({ format: "date-time", description: "of the newest notification" }),
  updated_at: t.String({ format: "date-time" }),
});
const groupExample = {
  id: notificationExample.id,
  group_id: `like:${notificationExample.post_id}`,
  verb: "like" as const,
  actor_ids: [actorExample.id],
  actor_usernames: [actorExample.username],
  actor_avatar_urls: [""],
  actor_count: 1,
  target_type: "post" as const,
  target_id: notificationExample.post_id,
  post_id: notificationExample.post_id,
  target_preview: "Midnight chords",
  content_text: "🔥",
  is_read: false,
  is_seen: false,
  created_at: notificationExample.created_at,
  updated_at: notificationExample.created_at,
};
const countsExample = { unseen: 2, unread: 5 };
const Counts = t.Object({ unseen: t.Integer(), unread: t.Integer() }, { examples: [countsExample] });
const NotificationList = t.Object(
  { notifications: t.Array(Notification), groups: t.Array(NotificationGroup), unseen: t.Integer(), unread: t.Integer(), meta: PageMeta },
  { examples: [{ notifications: [notificationExample], groups: [groupExample], ...countsExample, meta: { count: 1, has_more: false, next_cursor: "" } }] },
);
const MarkBody = t.Object({
  ids: t.Optional(t.Array(t.String({ maxLength: 64 }), { maxItems: 500, description: "your notifications to mark; absent or empty: all" })),
});
const MarkResult = t.Object(
  { ok: t.Literal(true), updated: t.Integer({ description: "notifications that changed" }), unseen: t.Integer(), unread: t.Integer() },
  { examples: [{ ok: true, updated: 3, unseen: 0, unread: 2 }] },
);

export const notificationRoutes = (deps: Deps) =>
  new Elysia({ name: "notification-routes", detail: { tags: ["notifications"] } })
    .use(authGuard(deps))
    .get(
      "/notifications",
      async ({ auth, query }) => {
        const page = parsePage(query);
        const rows = await listNotifications(deps, auth.user.id, page);
        const { items, meta } = pageOf(rows, page, (r) => ({ createdAt: r.row.createdAt, id: r.row.id }));
        return {
          notifications: items.map((r) => r.item),
          groups: groupNotifications(auth.user.id, items),
          ...(await notificationCounts(deps, auth.user.id)),
          meta,
        };
      },
      {
        auth: true,
        query: PageQuery,
        response: { 200: NotificationList, 400: ErrorSchema, 401: ErrorSchema },
        detail: {
          summary:
            "Your notifications, newest first, with unseen and unread counts; groups[] is the same page grouped by verb and " +
            "target, as the plugin reads it (plugin: limit and offset)",
        },
      },
    )
    .get("/notifications/counts", ({ auth }) => notificationCounts(deps, auth.user.id), {
      auth: true,
      response: { 200: Counts, 401: ErrorSchema },
      detail: { summary: "Unseen and unread notification counts (plugin, polled every 30 s)" },
    })
    .post(
      "/notifications/read",
      async ({ auth, body }) => {
        const updated = await markNotifications(deps, auth.user.id, "read", body.ids ?? []);
        return { ok: true as const, updated, ...(await notificationCounts(deps, auth.user.id)) };
      },
      {
        auth: true,
        parse: "json",
        body: MarkBody,
        response: { 200: MarkResult, 400: ErrorSchema, 401: ErrorSchema },
        detail: { summary: "Mark notifications read (and seen): the given ids, or all" },
      },
    )
    .post(
      "/notifications/seen",
      async ({ auth, body }) => {
        const updated = await markNotifications(deps, auth.user.id, "seen", body.ids ?? []);
        return { ok: true as const, updated, ...(await notificationCounts(deps, auth.user.id)) };
      },
      {
        auth: true,
        parse: "json",
        body: MarkBody,
        response: { 200: MarkResult, 400: ErrorSchema, 401: ErrorSchema },
        detail: { summary: "Mark notifications seen (clears the badge): the given ids, or all" },
      },
    )
    // Plugin start-up calls for features not built here: empty, successful answers.
    // The plugin turns an empty-body POST into a GET: these mark everything (a bearer token, never a cookie,
    // authorizes them, so a GET here is not a CSRF hole).
    .get(
      "/notifications/read",
      async ({ auth }) => {
        const updated = await markNotifications(deps, auth.user.id, "read", []);
        return { ok: true as const, updated, ...(await notificationCounts(deps, auth.user.id)) };
      },
      {
        auth: true,
        response: { 200: MarkResult, 401: ErrorSchema },
        detail: { summary: "Mark every notification read (plugin alias of the POST without a body)" },
      },
    )
    .get(
      "/notifications/seen",
      async ({ auth }) => {
        const updated = await markNotifications(deps, auth.user.id, "seen", []);
        return { ok: true as const, updated, ...(await notificationCounts(deps, auth.user.id)) };
      },
      {
        auth: true,
        response: { 200: MarkResult, 401: ErrorSchema },
        detail: { summary: "Mark every notification seen (plugin alias of the POST without a body)" },
      },
    )
    .get("/users/me/follow-requests/count", () => ({ count: 0 }), {
      viewer: true,
      response: { 200: t.Object({ count: t.Integer() }, { examples: [{ count: 0 }] }), 401: ErrorSchema },
      detail: { summary: "Pending follow requests (plugin start-up; follows need no approval here, always 0)" },
    });

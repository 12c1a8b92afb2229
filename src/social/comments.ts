// Comments on loops (README "Comments"; docs/plugin-contract.md "Comments").
//
// - One level of replies: `parent_id` names a comment of the same loop; a reply to a reply attaches to that reply's
//   top-level comment (the thread stays one level deep, and the reply's author is still the one notified).
// - `at_ms` pins a comment to a moment of the loop: a whole number of milliseconds from 0 to the loop's duration.
// - Text: NFC, trimmed, 1..COMMENT_MAX characters, several lines allowed, no control or invisible characters
//   (src/lib/text.ts, the rules of profile text).
// - Who may comment: only on a ready loop the commenter can see, as its `comment_audience` allows (everyone,
//   followers of the producer and the producer, or nobody when "off"), never between two users when one blocks the
//   other (either way). Comments of a user the viewer blocks or is blocked by are left out of what the viewer reads,
//   and so are comments of suspended accounts, for everyone, until staff unsuspend them (their rows stay).
// - Edit: your own comment, within EDIT_WINDOW_MS of writing it. Delete: its author, the loop's producer, or staff;
//   its replies, likes and notifications go with it.
// - posts.comment_count (every comment and reply of the loop) and comments.reply_count / like_count are rewritten
//   from the rows in the transaction of every change, so they are exact by construction.
// - Notifications (after the commit): the producer for a comment on their loop, the parent's author for a reply,
//   and up to MENTION_MAX `@username`s (never yourself, never someone who blocks you or whom you block, nor anyone
//   blocked with the producer: they cannot see the loop); one per person per comment. Watchers of the loop (as for
//   reactions) get the `new_comment` WebSocket event.
import { and, asc, count, eq, gt, inArray, isNull, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { commentLikes, comments, follows, notifications, posts, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { ApiError, errors } from "../http/errors.ts";
import type { Page } from "../http/pagination.ts";
import { queryRows } from "../db/prepared.ts";
import { normalizeText, textProblem } from "../lib/text.ts";
import { publishComment } from "../realtime/events.ts";
import { isStaff, type UserRow } from "../users/service.ts";
import { blockedBetween, blockedWith } from "./block-states.ts";
import { type CommentNotificationKind, createNotification, notificationDedupeKey, pushNotification } from "./notifications.ts";

export const COMMENT_MAX = 1000;
export const EDIT_WINDOW_MS = 15 * 60_000;
export const MENTION_MAX = 5;
/** Replies shown under each top-level comment of a page; GET /comments/{id}/replies pages through all of them. */
export const REPLIES_SHOWN = 20;

export type CommentRow = typeof comments.$inferSelect;
type Author = { id: string; username: string; displayName: string; avatarKey: string | null };

export type CommentT = {
  id: string;
  post_id: string;
  user_id: string;
  username: string;
  display_name: string;
  user_avatar_url: string;
  content: string;
  /** "" for a top-level comment. */
  parent_id: string;
  /** The moment of the loop, in ms; null when the comment is about the whole loop. */
  at_ms: number | null;
  like_count: number;
  reply_count: number;
  is_liked: boolean;
  is_own_comment: boolean;
  can_edit: boolean;
  can_delete: boolean;
  is_edited: boolean;
  created_at: string;
  updated_at: string;
  /** Top-level comments of a list carry their first REPLIES_SHOWN replies, oldest first; replies carry []. */
  replies: CommentT[];
};

/** Who is reading: their id and whether they are staff (staff may delete any comment). */
export type Viewer = { id: string; staff: boolean } | null;
export const viewerOf = (u: Pick<UserRow, "id" | "role"> | null | undefined): Viewer => (u ? { id: u.id, staff: isStaff(u) } : null);

/** The comment text, normalised, or a 400 validation_error naming `content`. */
export function cleanContent(raw: string): string {
  const text = normalizeText(raw, true);
  const length = [...text].length;
  const problem = length === 0 ? "Write something" : length > COMMENT_MAX ? `At most ${COMMENT_MAX} characters` : textProblem(text, true);
  if (problem) throw errors.validation({ content: problem });
  return text;
}

/** The distinct usernames a text mentions (`@name`), in order, at most MENTION_MAX. */
export function mentionedUsernames(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/(?<![\w@])@([a-z0-9_.-]{3,30})/gi)) {
    const name = m[1]!.toLowerCase().replace(/\.+$/, "");
    if (name.length >= 3 && !names.includes(name)) names.push(name);
    if (names.length === MENTION_MAX) break;
  }
  return names;
}

type PostForComments = { id: string; userId: string; commentAudience: string; durationSeconds: number | null };

/**
 * The loop a viewer reads the comments of: ready (or the viewer's own), and nobody blocks anybody. Otherwise the
 * 404 of an unknown post, as everywhere (no probing).
 */
async function readablePost(db: Db, postId: string, viewerId: string | null): Promise<PostForComments & { status: string }> {
  const [p] = await db
    .select({
      id: posts.id,
      userId: posts.userId,
      status: posts.status,
      commentAudience: posts.commentAudience,
      durationSeconds: posts.durationSeconds,
      blocked: blockedWith(viewerId, posts.userId),
    })
    .from(posts)
    .where(eq(posts.id, postId.slice(0, 64)))
    .limit(1);
  if (!p || (p.status !== "ready" && p.userId !== viewerId) || Number(p.blocked)) throw errors.notFound("post_not_found", "No such post");
  return p;
}

/** The loop `viewerId` may comment on now: readable, ready, and its comment_audience lets them. */
async function commentablePost(db: Db, postId: string, viewerId: string): Promise<PostForComments> {
  const p = await readablePost(db, postId, viewerId);
  if (p.status !== "ready") throw errors.conflict("post_not_ready", "This loop is not published yet");
  if (p.commentAudience === "off") throw errors.forbidden("comments_off", "The producer turned comments off for this loop");
  if (p.commentAudience === "followers" && p.userId !== viewerId) {
    const [f] = await db
      .select({ x: follows.followerId })
      .from(follows)
      .where(and(eq(follows.followerId, viewerId), eq(follows.followeeId, p.userId)))
      .limit(1);
    if (!f) throw errors.forbidden("comments_followers_only", "Only the producer's followers may comment on this loop");
  }
  return p;
}

/** True (1) when the comment's author is not suspended: one primary-key lookup per comment. */
const authorActive = sql<number>`EXISTS (SELECT 1 FROM ${users} AS ca WHERE ca.id = ${comments.userId} AND ca.suspended_at IS NULL)`;

/** A comment the viewer may see: on a readable loop, by an active account neither blocks. 404 comment_not_found otherwise. */
async function visibleComment(db: Db, commentId: string, viewerId: string | null): Promise<CommentRow & { postOwner: string }> {
  const [c] = await db
    .select({ c: comments, postOwner: posts.userId, status: posts.status, blocked: blockedWith(viewerId, comments.userId), active: authorActive })
    .from(comments)
    .innerJoin(posts, eq(posts.id, comments.postId))
    .where(eq(comments.id, commentId.slice(0, 64)))
    .limit(1);
  if (!c || Number(c.blocked) || !Number(c.active) || (c.status !== "ready" && c.postOwner !== viewerId))
    throw errors.notFound("comment_not_found", "No such comment");
  if (viewerId && c.postOwner !== viewerId && (await blockedBetween(db, viewerId, c.postOwner))) throw errors.notFound("comment_not_found", "No such comment");
  return { ...c.c, postOwner: c.postOwner };
}

const iso = (ms: number) => new Date(ms).toISOString();

function toComment(deps: Deps, c: CommentRow, author: Author, postOwner: string, viewer: Viewer, liked: boolean): CommentT {
  const own = viewer?.id === c.userId;
  return {
    id: c.id,
    post_id: c.postId,
    user_id: c.userId,
    username: author.username,
    display_name: author.displayName,
    user_avatar_url: author.avatarKey ? deps.mediaUrl(author.avatarKey) : "",
    content: c.content,
    parent_id: c.parentId ?? "",
    at_ms: c.atMs,
    like_count: c.likeCount,
    reply_count: c.replyCount,
    is_liked: liked,
    is_own_comment: own,
    can_edit: own && deps.clock.now() - c.createdAt < EDIT_WINDOW_MS,
    can_delete: own || viewer?.id === postOwner || viewer?.staff === true,
    is_edited: c.editedAt !== null,
    created_at: iso(c.createdAt),
    updated_at: iso(c.editedAt ?? c.createdAt),
    replies: [],
  };
}

const authorFields = { id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey };

/** Which of these comments the viewer likes (one statement over the comment_likes primary key). */
async function likedAmong(db: Db, viewerId: string | null, ids: string[]): Promise<Set<string>> {
  if (!viewerId || ids.length === 0) return new Set();
  const rows = await db
    .select({ id: commentLikes.commentId })
    .from(commentLikes)
    .where(and(eq(commentLikes.userId, viewerId), inArray(commentLikes.commentId, ids)));
  return new Set(rows.map((r) => r.id));
}

/** One comment as the API shows it (no replies). */
export async function commentView(deps: Deps, commentId: string, viewer: Viewer): Promise<CommentT> {
  const { db } = deps.database;
  const c = await visibleComment(db, commentId, viewer?.id ?? null);
  const [author] = await db.select(authorFields).from(users).where(eq(users.id, c.userId)).limit(1);
  return toComment(deps, c, author!, c.postOwner, viewer, (await likedAmong(db, viewer?.id ?? null, [c.id])).has(c.id));
}

/** Keyset after (created_at, id), oldest first. */
const after = (page: Page) =>
  page.before
    ? or(gt(comments.createdAt, page.before.createdAt), and(eq(comments.createdAt, page.before.createdAt), gt(comments.id, page.before.id)))
    : undefined;

export type CommentList = { comments: CommentT[]; total_count: number; has_more: boolean; next: CommentRow | undefined };

/** Comment pages kept in deps.caches.commentPages (exact: reused only while the database is unchanged). */
export const COMMENT_CACHE_PAGES = 256;

/** A page of a loop's comments as anyone sees it (no viewer fields), with the loop's producer; null for no such loop. */
type PublicList = (CommentList & { owner: string }) | null;

export const COMMENT_SQL = {
  /**
   * Whom the viewer blocks and who blocks them (the blocks primary key and blocks_blocked_idx), and which of a page's
   * comments the viewer likes (the comment_likes primary key). ?1 viewer, ?2 JSON array of the page's comment ids.
   */
  viewer: `SELECT 'b' AS k, blocked_id AS id FROM blocks WHERE blocker_id = ?1
UNION ALL SELECT 'b', blocker_id FROM blocks WHERE blocked_id = ?1
UNION ALL SELECT 'l', comment_id FROM comment_likes WHERE user_id = ?1 AND comment_id IN (SELECT value FROM json_each(?2))`,
} as const;

/** A viewer beside a cached page: whether they block or are blocked by anyone, and which of its comments they like. */
type PageViewer = { blocks: boolean; liked: ReadonlySet<string> };

/**
 * The copies made for a viewer from a cached page, per PageViewer (itself cached per page, viewer and database
 * version), until the first of the viewer's comments on it leaves the edit window (`until`): the same frozen array
 * comes back, so the route reuses the JSON it made from it (social/comment-routes.ts).
 */
const copiesMemo = new WeakMap<PageViewer, { until: number; comments: CommentT[] }>();

/**
 * A loop's top-level comments, oldest first (the conversation's order; the plugin appends pages by offset), each with
 * its first REPLIES_SHOWN replies. total_count counts the top-level comments the viewer sees (what offset pages
 * over). Comments of users the viewer blocks or is blocked by are left out, with their replies.
 *
 * The page as anyone sees it is kept while the database is unchanged (deps.caches.commentPages, db/read-cache.ts);
 * a signed-in reader costs one more statement, kept the same way (their blocks and their likes on the page), and
 * gets copies with their own fields. Most readers block nobody and are blocked by nobody; a reader with any block
 * either way gets the page read for them instead (listCommentsFor), so what they see, total_count and paging stay
 * exact.
 */
export async function listComments(deps: Deps, postId: string, viewer: Viewer, page: Page): Promise<CommentList> {
  const cache = deps.caches.commentPages;
  const key = `p:${postId.slice(0, 64)}:${page.limit}:${page.offset}:${page.before ? `${page.before.createdAt}.${page.before.id}` : ""}`;
  const shared = (await cache.get(key, () =>
    listCommentsFor(deps, postId, null, page).catch((err) => {
      if (err instanceof ApiError && err.status === 404) return null; // not ready (its producer may still read it), or none
      throw err;
    }),
  )) as PublicList;
  if (!shared) return listCommentsFor(deps, postId, viewer, page);
  if (!viewer) return shared;
  const state = (await cache.get(`v:${viewer.id}:${key}`, async () => {
    const ids = JSON.stringify(shared.comments.flatMap((c) => [c.id, ...c.replies.map((r) => r.id)]));
    const rows = await queryRows<{ k: string; id: string }>(deps.database, COMMENT_SQL.viewer, [viewer.id, ids]);
    return { blocks: rows.some((r) => r.k === "b"), liked: new Set(rows.filter((r) => r.k === "l").map((r) => r.id)) } satisfies PageViewer;
  })) as PageViewer;
  if (state.blocks) return listCommentsFor(deps, postId, viewer, page);
  const now = deps.clock.now();
  let memo = copiesMemo.get(state);
  if (!memo || now >= memo.until) {
    let until = Number.POSITIVE_INFINITY;
    const mine = (c: CommentT): CommentT => {
      const own = c.user_id === viewer.id;
      const closes = own ? Date.parse(c.created_at) + EDIT_WINDOW_MS : 0;
      if (closes > now) until = Math.min(until, closes);
      return Object.freeze({
        ...c,
        is_liked: state.liked.has(c.id),
        is_own_comment: own,
        can_edit: closes > now,
        can_delete: own || viewer.id === shared.owner || viewer.staff,
        replies: c.replies.map(mine),
      });
    };
    memo = { until, comments: Object.freeze(shared.comments.map(mine)) as CommentT[] };
    copiesMemo.set(state, memo);
  }
  return { ...shared, comments: memo.comments };
}

/** listComments read for this viewer (their blocks applied in SQL), with the loop's producer. */
async function listCommentsFor(deps: Deps, postId: string, viewer: Viewer, page: Page): Promise<CommentList & { owner: string }> {
  const { db } = deps.database;
  const viewerId = viewer?.id ?? null;
  const post = await readablePost(db, postId, viewerId);
  const { items: top, has_more, total } = await pageOfComments(db, and(eq(comments.postId, post.id), isNull(comments.parentId)), viewerId, page);
  const ids = top.map((r) => r.c.id);
  const replies = ids.length ? await firstReplies(db, ids, viewerId) : [];
  const liked = await likedAmong(db, viewerId, [...ids, ...replies.map((r) => r.c.id)]);
  const byParent = new Map<string, CommentT[]>();
  for (const r of replies) {
    const list = byParent.get(r.c.parentId!) ?? [];
    list.push(toComment(deps, r.c, r.author, post.userId, viewer, liked.has(r.c.id)));
    byParent.set(r.c.parentId!, list);
  }
  return {
    comments: top.map((r) => ({ ...toComment(deps, r.c, r.author, post.userId, viewer, liked.has(r.c.id)), replies: byParent.get(r.c.id) ?? [] })),
    total_count: total,
    has_more,
    next: has_more ? top.at(-1)?.c : undefined,
    owner: post.userId,
  };
}

/** One page of the comments `where` selects that the viewer sees, oldest first, with their authors and their total. */
async function pageOfComments(db: Db, where: SQL | undefined, viewerId: string | null, page: Page) {
  const shown = and(where, sql`NOT ${blockedWith(viewerId, comments.userId)}`, sql`${authorActive}`);
  const rows = await db
    .select({ c: comments, author: authorFields })
    .from(comments)
    .innerJoin(users, eq(users.id, comments.userId))
    .where(and(shown, after(page)))
    .orderBy(asc(comments.createdAt), asc(comments.id))
    .limit(page.limit + 1)
    .offset(page.offset);
  const [total] = await db.select({ n: count() }).from(comments).where(shown);
  return { items: rows.slice(0, page.limit), has_more: rows.length > page.limit, total: Number(total?.n ?? 0) };
}

/** The first REPLIES_SHOWN visible replies of each of these comments, oldest first (one statement). */
async function firstReplies(db: Db, parentIds: string[], viewerId: string | null) {
  const ranked = db
    .select({
      id: comments.id,
      rank: sql<number>`row_number() OVER (PARTITION BY ${comments.parentId} ORDER BY ${comments.createdAt}, ${comments.id})`.as("rank"),
    })
    .from(comments)
    .where(and(inArray(comments.parentId, parentIds), sql`NOT ${blockedWith(viewerId, comments.userId)}`, sql`${authorActive}`))
    .as("ranked");
  return db
    .select({ c: comments, author: authorFields })
    .from(ranked)
    .innerJoin(comments, eq(comments.id, ranked.id))
    .innerJoin(users, eq(users.id, comments.userId))
    .where(sql`${ranked.rank} <= ${REPLIES_SHOWN}`)
    .orderBy(asc(comments.createdAt), asc(comments.id));
}

/** A comment's replies, oldest first, paged; total_count counts the ones the viewer sees. */
export async function listReplies(deps: Deps, commentId: string, viewer: Viewer, page: Page): Promise<CommentList> {
  const { db } = deps.database;
  const viewerId = viewer?.id ?? null;
  const parent = await visibleComment(db, commentId, viewerId);
  const { items, has_more, total } = await pageOfComments(db, eq(comments.parentId, parent.id), viewerId, page);
  const liked = await likedAmong(
    db,
    viewerId,
    items.map((r) => r.c.id),
  );
  return {
    comments: items.map((r) => toComment(deps, r.c, r.author, parent.postOwner, viewer, liked.has(r.c.id))),
    total_count: total,
    has_more,
    next: has_more ? items.at(-1)?.c : undefined,
  };
}

/** posts.comment_count := the loop's comments and replies, in the caller's transaction. */
async function recountPost(tx: Db, postId: string) {
  await tx
    .update(posts)
    .set({ commentCount: sql`(SELECT count(*) FROM ${comments} WHERE ${comments.postId} = ${postId})` })
    .where(eq(posts.id, postId));
}

/** comments.reply_count := the comment's replies, in the caller's transaction. */
async function recountReplies(tx: Db, commentId: string) {
  await tx
    .update(comments)
    .set({ replyCount: sql`(SELECT count(*) FROM ${comments} AS r WHERE r.parent_id = ${commentId})` })
    .where(eq(comments.id, commentId));
}

export type NewComment = { content: string; parent_id?: string; at_ms?: number | null };
type Created = { row: CommentRow; postOwner: string; notified: { userId: string; kind: CommentNotificationKind }[]; commentCount: number };

/**
 * The users of these usernames a comment may notify: never the author, nor anyone who blocks or is blocked by the
 * author or the loop's producer (they cannot see the loop).
 */
async function mentionable(tx: Db, names: string[], authorId: string, postOwner: string): Promise<string[]> {
  if (!names.length) return [];
  const mentioned = await tx
    .select({ id: users.id, blocked: sql<number>`${blockedWith(authorId, users.id)} OR ${blockedWith(postOwner, users.id)}` })
    .from(users)
    .where(and(inArray(users.username, names), isNull(users.suspendedAt)));
  return mentioned.filter((m) => !Number(m.blocked) && m.id !== authorId).map((m) => m.id);
}

type Notified = { userId: string; kind: CommentNotificationKind }[];

/** Who this comment notifies: the producer, the replied-to author, the mentioned (each once, never the author). */
async function notifyOf(tx: Db, row: CommentRow, postOwner: string, parentAuthor: string | null) {
  const out: Notified = [];
  const add = (userId: string, kind: CommentNotificationKind) => {
    if (userId !== row.userId && !out.some((n) => n.userId === userId)) out.push({ userId, kind });
  };
  if (parentAuthor) add(parentAuthor, "reply");
  add(postOwner, "comment");
  for (const id of await mentionable(tx, mentionedUsernames(row.content), row.userId, postOwner)) add(id, "mention");
  return out;
}

/** Writes these notifications of a comment in the caller's transaction; `push` sends them after the commit. */
async function notifyAll(deps: Deps, tx: Db, row: CommentRow, notified: Notified) {
  for (const n of notified) await createNotification(deps, tx, { kind: n.kind, userId: n.userId, actorId: row.userId, postId: row.postId, commentId: row.id });
}
function pushAll(deps: Deps, row: CommentRow, notified: Notified) {
  for (const n of notified) {
    const key = notificationDedupeKey({ kind: n.kind, userId: n.userId, actorId: row.userId, postId: row.postId, commentId: row.id });
    void pushNotification(deps, n.userId, key).catch(() => undefined);
  }
}

/** Writes a comment (or a reply) and everything it changes, in one transaction; then the events and pushes. */
export async function createComment(deps: Deps, viewer: NonNullable<Viewer>, postId: string, input: NewComment): Promise<CommentT> {
  const content = cleanContent(input.content);
  const done = await deps.database.tx<Created>(
    async (tx) => {
      const post = await commentablePost(tx, postId, viewer.id);
      let parentId: string | null = null;
      let parentAuthor: string | null = null;
      if (input.parent_id) {
        const parent = await visibleComment(tx, input.parent_id, viewer.id).catch((err) => {
          if (err instanceof ApiError) return null; // unknown, or hidden from the viewer: the same answer
          throw err;
        });
        if (!parent || parent.postId !== post.id) throw errors.validation({ parent_id: "No such comment on this loop" });
        // One level: a reply to a reply joins its thread; its author is still the one told.
        parentId = parent.parentId ?? parent.id;
        parentAuthor = parent.userId;
      }
      const atMs = input.at_ms ?? null;
      if (atMs !== null) {
        const max = Math.round((post.durationSeconds ?? 0) * 1000);
        if (!Number.isSafeInteger(atMs) || atMs < 0 || atMs > max) throw errors.validation({ at_ms: `A moment of the loop: 0 to ${max} ms` });
      }
      const row: CommentRow = {
        id: Bun.randomUUIDv7(),
        postId: post.id,
        userId: viewer.id,
        parentId,
        content,
        atMs,
        likeCount: 0,
        replyCount: 0,
        createdAt: deps.clock.now(),
        editedAt: null,
      };
      await tx.insert(comments).values(row);
      await recountPost(tx, post.id);
      if (parentId) await recountReplies(tx, parentId);
      const notified = await notifyOf(tx, row, post.userId, parentAuthor);
      await notifyAll(deps, tx, row, notified);
      const [p] = await tx.select({ n: posts.commentCount }).from(posts).where(eq(posts.id, post.id));
      return { row, postOwner: post.userId, notified, commentCount: p?.n ?? 0 };
    },
    {
      afterCommit: ({ row, postOwner, notified, commentCount }) => {
        void publishComment(deps, { postId: row.postId, ownerId: postOwner, actorId: row.userId, commentId: row.id, commentCount, created: true });
        pushAll(deps, row, notified);
      },
    },
  );
  const [author] = await deps.database.db.select(authorFields).from(users).where(eq(users.id, viewer.id)).limit(1);
  return toComment(deps, done.row, author!, done.postOwner, viewer, false);
}

/**
 * Edits your own comment within EDIT_WINDOW_MS of writing it. Someone the edit newly mentions is notified (a
 * `mention`), unless this comment already notified them (as its loop's producer, the replied-to author, or a mention).
 */
export async function updateComment(deps: Deps, viewer: NonNullable<Viewer>, commentId: string, raw: string): Promise<CommentT> {
  const content = cleanContent(raw);
  await deps.database.tx(
    async (tx) => {
      const c = await visibleComment(tx, commentId, viewer.id);
      if (c.userId !== viewer.id) throw errors.forbidden("not_your_comment", "You can edit only your own comments");
      if (deps.clock.now() - c.createdAt >= EDIT_WINDOW_MS)
        throw errors.forbidden("edit_window_closed", "Comments can be edited for 15 minutes after writing them");
      if (c.content === content) return { row: c, notified: [] as Notified };
      const row: CommentRow = { ...c, content, editedAt: deps.clock.now() };
      await tx.update(comments).set({ content, editedAt: row.editedAt }).where(eq(comments.id, c.id));
      const before = new Set(mentionedUsernames(c.content));
      const added = mentionedUsernames(content).filter((n) => !before.has(n));
      const told = new Set((await tx.select({ id: notifications.userId }).from(notifications).where(eq(notifications.commentId, c.id))).map((r) => r.id));
      const notified: Notified = (await mentionable(tx, added, c.userId, c.postOwner))
        .filter((id) => !told.has(id))
        .map((userId) => ({ userId, kind: "mention" as const }));
      await notifyAll(deps, tx, row, notified);
      return { row, notified };
    },
    { afterCommit: ({ row, notified }) => pushAll(deps, row, notified) },
  );
  return commentView(deps, commentId, viewer);
}

export type Deleted = { ok: true; deleted: true; id: string; comment_count: number };

/**
 * Deletes a comment with its replies (their likes and notifications too): by its author, the loop's producer or
 * staff. Idempotent for the plugin's retries only in effect: a second delete of the same comment is 404.
 */
export async function deleteComment(deps: Deps, viewer: NonNullable<Viewer>, commentId: string): Promise<Deleted> {
  const done = await deps.database.tx(
    async (tx) => {
      const c = await visibleComment(tx, commentId, viewer.id);
      if (c.userId !== viewer.id && c.postOwner !== viewer.id && !viewer.staff)
        throw errors.forbidden("not_your_comment", "Only its author, the loop's producer or staff may delete a comment");
      return { ...(await removeComment(tx, c)), authorId: c.userId };
    },
    // "About" the comment's author: whoever blocks them or is blocked by them hears nothing of it, as of its creation.
    {
      afterCommit: (r) =>
        void publishComment(deps, { postId: r.postId, ownerId: r.postOwner, actorId: r.authorId, commentId, commentCount: r.count, created: false }),
    },
  );
  return { ok: true, deleted: true, id: commentId, comment_count: done.count };
}

/** The delete itself (also the staff's report action): the row, its replies (cascade), notifications, counts. */
export async function removeComment(tx: Db, c: Pick<CommentRow, "id" | "postId" | "parentId">) {
  const replies = await tx.select({ id: comments.id }).from(comments).where(eq(comments.parentId, c.id));
  await tx.delete(notifications).where(inArray(notifications.commentId, [c.id, ...replies.map((r) => r.id)]));
  await tx.delete(comments).where(eq(comments.id, c.id));
  await recountPost(tx, c.postId);
  if (c.parentId) await recountReplies(tx, c.parentId);
  const [p] = await tx.select({ n: posts.commentCount, owner: posts.userId }).from(posts).where(eq(posts.id, c.postId));
  return { postId: c.postId, postOwner: p?.owner ?? "", count: p?.n ?? 0 };
}

export type LikeState = { like_count: number; is_liked: boolean };

/**
 * Likes (true), unlikes (false) or toggles a comment; idempotent for true and false. The commenter is not notified
 * (comment likes are small talk).
 */
export async function likeComment(deps: Deps, viewerId: string, commentId: string, want: boolean | "toggle"): Promise<LikeState> {
  return deps.database.tx(async (tx) => {
    const c = await visibleComment(tx, commentId, viewerId);
    const mine = and(eq(commentLikes.userId, viewerId), eq(commentLikes.commentId, c.id));
    let like = want;
    if (like === "toggle") like = (await tx.select({ x: commentLikes.userId }).from(commentLikes).where(mine).limit(1)).length === 0;
    if (like) await tx.insert(commentLikes).values({ userId: viewerId, commentId: c.id, createdAt: deps.clock.now() }).onConflictDoNothing();
    else await tx.delete(commentLikes).where(mine);
    await tx
      .update(comments)
      .set({ likeCount: sql`(SELECT count(*) FROM ${commentLikes} WHERE ${commentLikes.commentId} = ${c.id})` })
      .where(eq(comments.id, c.id));
    const [row] = await tx.select({ n: comments.likeCount }).from(comments).where(eq(comments.id, c.id));
    return { like_count: row?.n ?? 0, is_liked: like };
  });
}

/** For reports: a comment the reporter can see, with its author and a label readable after it is gone. */
export async function commentForReport(deps: Deps, commentId: string, viewerId: string) {
  const c = await visibleComment(deps.database.db, commentId, viewerId);
  const [author] = await deps.database.db.select({ username: users.username }).from(users).where(eq(users.id, c.userId)).limit(1);
  const text = [...c.content].slice(0, 60).join("");
  return { comment: c, label: `comment by @${author?.username ?? "?"}: “${text}${[...c.content].length > 60 ? "…" : ""}”` };
}

/**
 * Before an account is deleted (admin/users.ts deleteAccount, in its transaction): its likes and comments go, with
 * the replies to them and their notifications, and every count they were part of is rewritten.
 */
export async function forgetUserComments(tx: Db, userId: string) {
  const liked = await tx.delete(commentLikes).where(eq(commentLikes.userId, userId)).returning({ id: commentLikes.commentId });
  for (const id of new Set(liked.map((l) => l.id)))
    await tx
      .update(comments)
      .set({ likeCount: sql`(SELECT count(*) FROM ${commentLikes} WHERE ${commentLikes.commentId} = ${id})` })
      .where(eq(comments.id, id));
  const own = await tx.select({ id: comments.id, postId: comments.postId, parentId: comments.parentId }).from(comments).where(eq(comments.userId, userId));
  for (const c of own) {
    const [still] = await tx.select({ id: comments.id }).from(comments).where(eq(comments.id, c.id));
    if (still) await removeComment(tx, c); // (a reply may have gone with its parent already)
  }
}

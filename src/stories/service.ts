// Stories (README "Stories"): who sees them, the stories feed, views and viewers, deletion and expiry.
// Audience: the producer's followers and the producer (the plugin's feed is "stories of people you follow"), never
// someone either side blocks, and nothing of a suspended or pending account. A story kept in a highlight is shown
// with the highlight to every member who may see the producer's loops (src/stories/highlights.ts).
import { and, asc, desc, eq, gt, lte, notExists, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { follows, highlightStories, stories, storyHighlights, storyViews, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { errorFields } from "../log.ts";
import { downloadFilename } from "../posts/download.ts";
import { blockedWith } from "../social/block-states.ts";
import { keyPrefix } from "../storage/index.ts";
import { type StoryAuthor, type StoryRow, type StoryT, toStory } from "./models.ts";

/** A story lives this long after it is posted (then expire-story deletes it, unless it is in a highlight). */
export const STORY_TTL_MS = 24 * 60 * 60 * 1000;
/** The most stories one stories-feed answer holds (a day of stories of everyone followed, oldest first). */
export const FEED_MAX_STORIES = 500;

export const storyDirs = (userId: string, storyId: string) => ["stories", userId, storyId];

const AUTHOR = { id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey };
/**
 * The producer may be shown: not suspended, not waiting for approval. The unary + keeps SQLite from reading the
 * stories through users_approval_idx (every approved member): the producer's row is found by its primary key.
 */
const authorShown = sql`+${users.suspendedAt} IS NULL AND +${users.approval} = 'approved'`;
const viewedBy = (viewerId: string) =>
  sql<number>`EXISTS (SELECT 1 FROM ${storyViews} WHERE ${storyViews.storyId} = ${stories.id} AND ${storyViews.viewerId} = ${viewerId})`;
const followedBy = (viewerId: string) =>
  sql<number>`EXISTS (SELECT 1 FROM ${follows} WHERE ${follows.followerId} = ${viewerId} AND ${follows.followeeId} = ${stories.userId})`;
const highlighted = sql<number>`EXISTS (SELECT 1 FROM ${highlightStories} WHERE ${highlightStories.storyId} = ${stories.id})`;
/** Ready and not yet expired. */
const live = (now: number) => and(eq(stories.status, "ready"), gt(stories.expiresAt, now));

/** Live stories with their producers and whether the viewer heard each, oldest first, under `where` (at most FEED_MAX_STORIES). */
function liveStories(deps: Deps, viewerId: string, ...where: (SQL | undefined)[]) {
  return deps.database.db
    .select({ story: stories, author: AUTHOR, viewed: viewedBy(viewerId) })
    .from(stories)
    .innerJoin(users, eq(users.id, stories.userId))
    .where(and(...where, live(deps.clock.now())))
    .orderBy(asc(stories.createdAt), asc(stories.id))
    .limit(FEED_MAX_STORIES);
}

type Found = { story: StoryRow; author: StoryAuthor; viewed: number; blocked: number; following: number; highlighted: number };

/** A story with what decides who may see it, or undefined. */
async function findStory(deps: Deps, id: string, viewerId: string): Promise<Found | undefined> {
  const [row] = await deps.database.db
    .select({
      story: stories,
      author: AUTHOR,
      viewed: viewedBy(viewerId),
      blocked: blockedWith(viewerId, stories.userId),
      following: followedBy(viewerId),
      highlighted,
      shown: sql<number>`${authorShown}`,
    })
    .from(stories)
    .innerJoin(users, eq(users.id, stories.userId))
    .where(eq(stories.id, id))
    .limit(1);
  if (!row) return undefined;
  if (row.story.userId === viewerId) return row;
  const mayShow = row.story.status === "ready" && Number(row.shown) && !Number(row.blocked);
  const inAudience = (row.story.expiresAt > deps.clock.now() && Number(row.following)) || Number(row.highlighted);
  return mayShow && inAudience ? row : undefined;
}

const notFound = () => errors.notFound("story_not_found", "No such story, or it has expired");

/** One story as the viewer may see it (404 story_not_found otherwise). */
export async function getStory(deps: Deps, id: string, viewerId: string): Promise<StoryT> {
  const row = await findStory(deps, id, viewerId);
  if (!row) throw notFound();
  return toStory(deps, row.story, row.author, row.story.userId === viewerId || Boolean(Number(row.viewed)));
}

export type StoryGroupT = { user_id: string; username: string; display_name: string; avatar_url: string; has_unviewed: boolean; stories: StoryT[] };

/**
 * The stories feed: the live stories of everyone the viewer follows and the viewer's own, grouped by producer
 * (oldest first within a group, as they are played): the viewer's own group first, then producers with stories
 * the viewer has not heard, then the rest, each by its newest story.
 */
export async function storiesFeed(deps: Deps, viewerId: string): Promise<{ stories: StoryT[]; groups: StoryGroupT[] }> {
  const rows = await liveStories(
    deps,
    viewerId,
    sql`${stories.userId} IN (SELECT ${follows.followeeId} FROM ${follows} WHERE ${follows.followerId} = ${viewerId} UNION ALL SELECT ${viewerId})`,
    authorShown,
    sql`NOT ${blockedWith(viewerId, stories.userId)}`,
  );
  const groups = new Map<string, StoryGroupT & { newest: number }>();
  for (const r of rows) {
    const story = toStory(deps, r.story, r.author, r.story.userId === viewerId || Boolean(Number(r.viewed)));
    const g = groups.get(story.user_id) ?? {
      user_id: story.user_id,
      username: story.username,
      display_name: story.user_display_name,
      avatar_url: story.user_avatar_url,
      has_unviewed: false,
      stories: [],
      newest: 0,
    };
    g.stories.push(story);
    g.has_unviewed ||= !story.viewed;
    g.newest = r.story.createdAt;
    groups.set(story.user_id, g);
  }
  const rank = (g: StoryGroupT) => (g.user_id === viewerId ? 0 : g.has_unviewed ? 1 : 2);
  const ordered = [...groups.values()].sort((a, b) => rank(a) - rank(b) || b.newest - a.newest);
  return {
    stories: ordered.flatMap((g) => g.stories),
    groups: ordered.map(({ newest: _, ...g }) => g),
  };
}

/** One producer's live stories, oldest first: the producer's followers and the producer see them, nobody else. */
export async function userStories(deps: Deps, userId: string, viewerId: string): Promise<StoryT[]> {
  const own = userId === viewerId;
  const audience = own ? [] : [authorShown, sql`${followedBy(viewerId)}`, sql`NOT ${blockedWith(viewerId, stories.userId)}`];
  const rows = await liveStories(deps, viewerId, eq(stories.userId, userId), ...audience);
  return rows.map((r) => toStory(deps, r.story, r.author, own || Boolean(Number(r.viewed))));
}

/**
 * Records that the viewer heard the story: once per viewer (the primary key), view_count counting the rows, in one
 * transaction. The producer's own plays are not views. Answers the story's count.
 */
export async function viewStory(deps: Deps, id: string, viewerId: string): Promise<{ ok: true; viewed: true; view_count: number }> {
  const row = await findStory(deps, id, viewerId);
  if (!row) throw notFound();
  if (row.story.userId === viewerId) return { ok: true, viewed: true, view_count: row.story.viewCount };
  const count = await deps.database.tx(async (tx) => {
    const added = await tx
      .insert(storyViews)
      .values({ storyId: id, viewerId, viewedAt: deps.clock.now() })
      .onConflictDoNothing()
      .returning({ storyId: storyViews.storyId });
    const [s] = added.length
      ? await tx
          .update(stories)
          .set({ viewCount: sql`${stories.viewCount} + 1` })
          .where(eq(stories.id, id))
          .returning({ n: stories.viewCount })
      : await tx.select({ n: stories.viewCount }).from(stories).where(eq(stories.id, id));
    return s?.n ?? 0;
  });
  return { ok: true, viewed: true, view_count: count };
}

/** Who viewed one's own story, newest first (members either side blocks are left out). Producer only. */
export async function storyViewers(deps: Deps, id: string, viewerId: string, page: { limit: number; offset: number }) {
  const row = await findStory(deps, id, viewerId);
  if (!row) throw notFound();
  if (row.story.userId !== viewerId) throw errors.forbidden("not_story_owner", "Only the story's producer sees who viewed it");
  const rows = await deps.database.db
    .select({ viewedAt: storyViews.viewedAt, user: AUTHOR })
    .from(storyViews)
    .innerJoin(users, eq(users.id, storyViews.viewerId))
    .where(and(eq(storyViews.storyId, id), sql`NOT ${blockedWith(viewerId, storyViews.viewerId)}`))
    .orderBy(desc(storyViews.viewedAt), asc(storyViews.viewerId))
    .limit(page.limit)
    .offset(page.offset);
  const viewers = rows.map((r) => {
    const avatar = r.user.avatarKey ? deps.mediaUrl(r.user.avatarKey) : "";
    const user = { id: r.user.id, username: r.user.username, display_name: r.user.displayName, avatar_url: avatar };
    return {
      user_id: user.id,
      username: user.username,
      display_name: user.display_name,
      avatar_url: avatar,
      user,
      viewed_at: new Date(r.viewedAt).toISOString(),
    };
  });
  return { viewers, view_count: row.story.viewCount };
}

/** What the plugin's "download" of a story needs: the MP3's URL, a safe file name, and what it is. */
export async function storyDownload(deps: Deps, id: string, viewerId: string) {
  const row = await findStory(deps, id, viewerId);
  if (row?.story.status !== "ready") throw notFound();
  const s = row.story;
  return {
    audio_url: deps.mediaUrl(s.audioKey),
    audio_filename: downloadFilename(s.title || "Sidechain story").replace(/\.wav$/, ".mp3"),
    metadata: {
      story_id: s.id,
      title: s.title,
      producer: row.author.username,
      bpm: Math.round(s.bpm ?? 0),
      key: s.key,
      duration_seconds: s.durationSeconds ?? 0,
      genres: s.genres,
      format: "mp3" as const,
    },
  };
}

/** Deletes one's own story at once (views and highlight places go with it), then its media. */
export async function deleteStory(deps: Deps, id: string, ownerId: string): Promise<void> {
  const gone = await deps.database.tx((tx) =>
    tx
      .delete(stories)
      .where(and(eq(stories.id, id), eq(stories.userId, ownerId)))
      .returning({ id: stories.id }),
  );
  if (!gone.length) throw errors.notFound("story_not_found", "No such story of yours");
  await removeStoryMedia(deps, ownerId, id);
}

/**
 * Deletes the given stories that have expired and are in no highlight: rows, then media. The expire-story job
 * calls it when a story's 24 h are over, and the highlights call it for the stories a highlight let go of.
 */
export async function purgeExpired(deps: Deps, ids: readonly string[]): Promise<number> {
  let purged = 0;
  for (const id of ids) {
    const gone = await deps.database.tx((tx) =>
      tx
        .delete(stories)
        .where(
          and(
            eq(stories.id, id),
            lte(stories.expiresAt, deps.clock.now()),
            notExists(tx.select({ x: highlightStories.storyId }).from(highlightStories).where(eq(highlightStories.storyId, id))),
          ),
        )
        .returning({ id: stories.id, userId: stories.userId }),
    );
    for (const g of gone) await removeStoryMedia(deps, g.userId, g.id);
    purged += gone.length;
  }
  return purged;
}

export async function removeStoryMedia(deps: Deps, userId: string, storyId: string) {
  try {
    await deps.storage.deletePrefix(keyPrefix(storyDirs(userId, storyId)));
  } catch (err) {
    deps.log.error("could not delete a story's media", { story_id: storyId, ...errorFields(err) });
  }
}

/** A member's stories and highlights for their data export (src/users/export.ts), oldest first. */
export async function exportStories(deps: Deps, userId: string) {
  const db = deps.database.db;
  const own = await db
    .select()
    .from(stories)
    .where(and(eq(stories.userId, userId), eq(stories.status, "ready")))
    .orderBy(asc(stories.createdAt), asc(stories.id));
  const highlights = await db
    .select()
    .from(storyHighlights)
    .where(eq(storyHighlights.userId, userId))
    .orderBy(asc(storyHighlights.sortOrder), asc(storyHighlights.createdAt));
  const held = await db
    .select({ highlightId: highlightStories.highlightId, storyId: highlightStories.storyId })
    .from(highlightStories)
    .innerJoin(storyHighlights, eq(storyHighlights.id, highlightStories.highlightId))
    .where(eq(storyHighlights.userId, userId))
    .orderBy(asc(highlightStories.addedAt));
  return {
    stories: own,
    highlights: highlights.map((h) => ({
      id: h.id,
      name: h.name,
      description: h.description,
      story_ids: held.filter((x) => x.highlightId === h.id).map((x) => x.storyId),
      created_at: new Date(h.createdAt).toISOString(),
    })),
  };
}

/** Account deletion (src/admin/users.ts): the member's views leave others' view counts, in its transaction. */
export async function forgetStoryViewsOf(tx: Db, userId: string): Promise<void> {
  await tx
    .update(stories)
    .set({ viewCount: sql`max(0, ${stories.viewCount} - 1)` })
    .where(sql`${stories.id} IN (SELECT ${storyViews.storyId} FROM ${storyViews} WHERE ${storyViews.viewerId} = ${userId})`);
}

/** Account deletion: every stored object of the member's stories (the rows go by cascade with the account). */
export async function removeAllStoryMedia(deps: Deps, userId: string): Promise<void> {
  await deps.storage.deletePrefix(keyPrefix(["stories", userId])).catch((err) => deps.log.warn("could not delete stories' media", errorFields(err)));
}

// Highlights (the plugin's StoryHighlight: src/models/Story.h; routes in src/network/api/StoriesClient.cpp): a
// producer's named collections of their stories, kept past the 24 h and shown on their profile to every member
// who may see their loops (not someone either side blocks, nothing of a suspended account). A story leaves with
// its highlight or on removal; if it has expired and no other highlight keeps it, it is deleted then.
import { and, asc, count, eq, sql } from "drizzle-orm";
import { highlightStories, stories, storyHighlights, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import { errors } from "../http/errors.ts";
import { newId } from "../lib/crypto.ts";
import { blockedWith } from "../social/block-states.ts";
import { type HighlightRow, type HighlightT, type StoryT, toHighlight, toStory } from "./models.ts";
import { purgeExpired } from "./service.ts";

export const HIGHLIGHTS_MAX = 50;
export const HIGHLIGHT_STORIES_MAX = 100;

const notFound = () => errors.notFound("highlight_not_found", "No such highlight");

/** Whether the viewer may see the producer's highlights (and so the producer's loops). */
async function mayView(deps: Deps, userId: string, viewerId: string): Promise<boolean> {
  if (userId === viewerId) return true;
  const [u] = await deps.database.db
    .select({ suspendedAt: users.suspendedAt, approval: users.approval, blocked: blockedWith(viewerId, users.id) })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1);
  return Boolean(u && u.suspendedAt === null && u.approval === "approved" && !Number(u.blocked));
}

// Written out: drizzle leaves a column of the selected table unqualified, which a subquery would read as its own.
const storyCount = sql<number>`(SELECT count(*) FROM highlight_stories hs WHERE hs.highlight_id = story_highlights.id)`;
/** The waveform PNG of the highlight's first story (the cover the plugin draws). */
const coverKey = sql<string | null>`(SELECT s.waveform_png_key FROM highlight_stories hs JOIN stories s ON s.id = hs.story_id
  WHERE hs.highlight_id = story_highlights.id AND s.status = 'ready' ORDER BY hs.added_at, hs.story_id LIMIT 1)`;

const withCover = (deps: Deps, h: HighlightRow, n: number, cover: string | null) => toHighlight(h, Number(n), cover ? deps.mediaUrl(cover) : "");

/** A producer's highlights in their order (GET /users/{id}/highlights). */
export async function listHighlights(deps: Deps, userId: string, viewerId: string): Promise<HighlightT[]> {
  if (!(await mayView(deps, userId, viewerId))) return [];
  const rows = await deps.database.db
    .select({ h: storyHighlights, n: storyCount, cover: coverKey })
    .from(storyHighlights)
    .where(eq(storyHighlights.userId, userId))
    .orderBy(asc(storyHighlights.sortOrder), asc(storyHighlights.createdAt), asc(storyHighlights.id));
  return rows.map((r) => withCover(deps, r.h, r.n, r.cover));
}

async function ownHighlight(deps: Deps, id: string, ownerId: string): Promise<HighlightRow> {
  const [h] = await deps.database.db.select().from(storyHighlights).where(eq(storyHighlights.id, id)).limit(1);
  if (!h || h.userId !== ownerId) throw notFound();
  return h;
}

/** One highlight with its stories, in the order they were added. */
export async function getHighlight(deps: Deps, id: string, viewerId: string): Promise<HighlightT & { stories: StoryT[] }> {
  const [row] = await deps.database.db
    .select({ h: storyHighlights, n: storyCount, cover: coverKey })
    .from(storyHighlights)
    .where(eq(storyHighlights.id, id))
    .limit(1);
  if (!row || !(await mayView(deps, row.h.userId, viewerId))) throw notFound();
  const own = row.h.userId === viewerId;
  const items = await deps.database.db
    .select({
      story: stories,
      author: { id: users.id, username: users.username, displayName: users.displayName, avatarKey: users.avatarKey },
      viewed: sql<number>`EXISTS (SELECT 1 FROM story_views v WHERE v.story_id = ${stories.id} AND v.viewer_id = ${viewerId})`,
    })
    .from(highlightStories)
    .innerJoin(stories, eq(stories.id, highlightStories.storyId))
    .innerJoin(users, eq(users.id, stories.userId))
    .where(and(eq(highlightStories.highlightId, id), eq(stories.status, "ready")))
    .orderBy(asc(highlightStories.addedAt), asc(highlightStories.storyId));
  return {
    ...withCover(deps, row.h, row.n, row.cover),
    stories: items.map((i) => toStory(deps, i.story, i.author, own || Boolean(Number(i.viewed)))),
  };
}

export type HighlightInput = { name?: string; description?: string; sort_order?: number };

const clean = (s: string | undefined) => s?.replace(/\s+/g, " ").trim();

export async function createHighlight(deps: Deps, ownerId: string, input: HighlightInput): Promise<HighlightT> {
  const name = clean(input.name);
  if (!name) throw errors.validation({ name: "Give the highlight a name" });
  const now = deps.clock.now();
  const row = await deps.database.tx(async (tx) => {
    const [{ n } = { n: 0 }] = await tx.select({ n: count() }).from(storyHighlights).where(eq(storyHighlights.userId, ownerId));
    if (Number(n) >= HIGHLIGHTS_MAX) throw errors.conflict("too_many_highlights", `You can keep at most ${HIGHLIGHTS_MAX} highlights`);
    const [h] = await tx
      .insert(storyHighlights)
      .values({
        id: newId(),
        userId: ownerId,
        name,
        description: clean(input.description) ?? "",
        sortOrder: input.sort_order ?? Number(n),
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    return h!;
  });
  return toHighlight(row, 0, "");
}

/** Renames, re-describes or moves one's own highlight (fields left out or empty stay as they are, as the plugin sends them). */
export async function updateHighlight(deps: Deps, ownerId: string, id: string, input: HighlightInput): Promise<HighlightT> {
  await ownHighlight(deps, id, ownerId);
  const name = clean(input.name);
  const description = clean(input.description);
  await deps.database.tx((tx) =>
    tx
      .update(storyHighlights)
      .set({
        ...(name ? { name } : {}),
        ...(description ? { description } : {}),
        ...(input.sort_order !== undefined ? { sortOrder: input.sort_order } : {}),
        updatedAt: deps.clock.now(),
      })
      .where(eq(storyHighlights.id, id)),
  );
  const { stories: _, ...h } = await getHighlight(deps, id, ownerId);
  return h;
}

/** Deletes one's own highlight; its expired stories that no other highlight keeps are deleted with it. */
export async function deleteHighlight(deps: Deps, ownerId: string, id: string): Promise<void> {
  await ownHighlight(deps, id, ownerId);
  const kept = await deps.database.tx(async (tx) => {
    const held = await tx.select({ id: highlightStories.storyId }).from(highlightStories).where(eq(highlightStories.highlightId, id));
    await tx.delete(storyHighlights).where(eq(storyHighlights.id, id));
    return held.map((s) => s.id);
  });
  await purgeExpired(deps, kept);
}

/** Adds one's own ready story to one's own highlight (again: nothing changes). */
export async function addToHighlight(deps: Deps, ownerId: string, id: string, storyId: string) {
  await ownHighlight(deps, id, ownerId);
  const [s] = await deps.database.db.select({ userId: stories.userId, status: stories.status }).from(stories).where(eq(stories.id, storyId)).limit(1);
  if (!s || s.userId !== ownerId || s.status !== "ready") throw errors.notFound("story_not_found", "No such story of yours");
  await deps.database.tx(async (tx) => {
    const [{ n } = { n: 0 }] = await tx.select({ n: count() }).from(highlightStories).where(eq(highlightStories.highlightId, id));
    if (Number(n) >= HIGHLIGHT_STORIES_MAX) throw errors.conflict("highlight_full", `A highlight holds at most ${HIGHLIGHT_STORIES_MAX} stories`);
    await tx.insert(highlightStories).values({ highlightId: id, storyId, addedAt: deps.clock.now() }).onConflictDoNothing();
    await tx.update(storyHighlights).set({ updatedAt: deps.clock.now() }).where(eq(storyHighlights.id, id));
  });
  const { stories: _, ...h } = await getHighlight(deps, id, ownerId);
  return h;
}

/** Takes a story out of one's own highlight; an expired story no other highlight keeps is deleted then. */
export async function removeFromHighlight(deps: Deps, ownerId: string, id: string, storyId: string) {
  await ownHighlight(deps, id, ownerId);
  await deps.database.tx((tx) => tx.delete(highlightStories).where(and(eq(highlightStories.highlightId, id), eq(highlightStories.storyId, storyId))));
  await purgeExpired(deps, [storyId]);
  const { stories: _, ...h } = await getHighlight(deps, id, ownerId);
  return h;
}

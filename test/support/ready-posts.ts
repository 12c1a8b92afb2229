// Posts and follows for social scenarios without ffmpeg: rows written through the database, and the same
// ready transition the process-loop job makes (status, post_count and onPostReady in one transaction).
import { and, eq, sql } from "drizzle-orm";
import { follows, posts, users } from "../../src/db/schema.ts";
import { onPostReady } from "../../src/social/post-ready.ts";
import type { TestEnv } from "./deps.ts";

/** What a test may set on a post row (its tempo, key, genres…); the rest is an upload's defaults. */
export type PostFields = Partial<Pick<typeof posts.$inferInsert, "bpm" | "key" | "genres" | "daw" | "durationSeconds">>;

/** A post row still processing, with the keys an upload reserves. */
export async function insertPost(env: TestEnv, userId: string, title = "Test loop", fields: PostFields = {}): Promise<string> {
  const id = Bun.randomUUIDv7();
  const now = env.clock.now();
  const key = (ext: string) => `loops/${id}/${"0".repeat(32)}.${ext}`;
  await env.deps.database.db.insert(posts).values({
    id,
    userId,
    status: "processing",
    title,
    bpm: 120,
    key: "Am",
    daw: "Ableton Live",
    genres: ["lofi"],
    durationBars: 4,
    originalKey: key("wav"),
    originalFormat: "wav",
    originalBytes: 1,
    audioKey: key("mp3"),
    peaksKey: key("json"),
    waveformKey: key("svg"),
    oggKey: key("ogg"),
    waveformPngKey: key("png"),
    createdAt: now,
    updatedAt: now,
    ...fields,
  });
  return id;
}

/** What process-loop does when processing succeeds (minus the media): ready, post_count, onPostReady. */
export async function markReady(env: TestEnv, postId: string): Promise<boolean> {
  const now = env.clock.now();
  return env.deps.database.tx(async (tx) => {
    const done = await tx
      .update(posts)
      .set({ status: "ready", durationSeconds: 8, loudnessLufs: -14, readyAt: now, updatedAt: now })
      .where(and(eq(posts.id, postId), eq(posts.status, "processing")))
      .returning({ userId: posts.userId });
    if (!done[0]) return false;
    await tx
      .update(users)
      .set({ postCount: sql`${users.postCount} + 1` })
      .where(eq(users.id, done[0].userId));
    await onPostReady(env.deps, tx, postId, done[0].userId);
    return true;
  });
}

export async function insertReadyPost(env: TestEnv, userId: string, title?: string): Promise<string> {
  const id = await insertPost(env, userId, title);
  await markReady(env, id);
  return id;
}

/** A follow row with its counters (what the follows feature writes), without its notification. */
export async function insertFollow(env: TestEnv, followerId: string, followeeId: string) {
  await env.deps.database.tx(async (tx) => {
    await tx.insert(follows).values({ followerId, followeeId, createdAt: env.clock.now() });
    await tx
      .update(users)
      .set({ followingCount: sql`${users.followingCount} + 1` })
      .where(eq(users.id, followerId));
    await tx
      .update(users)
      .set({ followerCount: sql`${users.followerCount} + 1` })
      .where(eq(users.id, followeeId));
  });
}

// Share cards (docs/architecture.md "Share cards"): each ready loop has a 1200×630 PNG that its links unfurl into
// (og:image). The loop's own job draws it (audio/process-loop.ts, with the peaks it just computed); this file has
// the drawing from a post row and the draw-cards job, which redraws one producer's cards:
//   - after they change their username or display name (queueCardRedraw, in the change's transaction), every card;
//   - at start for posts made before cards existed (queueMissingCards, like the renditions' backfill), the missing ones.
// A card is stored under a new key each time and the old object removed after the row points at the new one, so a
// card URL never changes content (media is cached as immutable) and a row never points at a missing object.
import { and, asc, eq, gt, isNull } from "drizzle-orm";
import { type CardInput, renderShareCard } from "../audio/card.ts";
import type { Db } from "../db/client.ts";
import { posts, users } from "../db/schema.ts";
import type { Deps } from "../deps.ts";
import type { JobInfo } from "../jobs/queue.ts";
import { errorFields } from "../log.ts";
import { newKey } from "../storage/index.ts";
import { instanceSettings } from "../system/settings.ts";
import { loopFacts, type PostRow } from "./models.ts";

export const DRAW_CARDS = "draw-cards";
/** `missing`: only posts without a card (the backfill); `all`: every ready post of the producer (a rename). */
export type DrawCardsPayload = { userId: string; only: "missing" | "all" };

const BATCH = 100;

export function registerCards(deps: Deps) {
  // One at a time, behind the uploads: a card is ~30 ms of CPU, a producer with hundreds of loops a few seconds.
  deps.jobs.register<DrawCardsPayload>(DRAW_CARDS, (job) => drawCards(deps, job), { concurrency: 1 });
}

/** Each job has its own dedupe key, `draw-cards:<only>:<user id>:<UUIDv7>`, so later jobs of a producer are found. */
const jobKey = (only: DrawCardsPayload["only"], userId: string) => `${DRAW_CARDS}:${only}:${userId}:`;

/** Records that a producer's cards show an old name: a draw-cards job written in the change's transaction. */
export async function queueCardRedraw(deps: Pick<Deps, "jobs">, tx: Db, userId: string): Promise<void> {
  const key = jobKey("all", userId) + Bun.randomUUIDv7();
  await deps.jobs.enqueue(DRAW_CARDS, { userId, only: "all" } satisfies DrawCardsPayload, { tx, dedupeKey: key });
}

/**
 * Queues a draw-cards job for each producer with ready posts that have no card (made before cards existed, or
 * whose drawing failed). Run at start without holding it up; a job finding nothing to draw is cheap. Returns how
 * many jobs were written.
 */
export async function queueMissingCards(deps: Deps): Promise<number> {
  const rows = await deps.database.db
    .selectDistinct({ userId: posts.userId })
    .from(posts)
    .where(and(eq(posts.status, "ready"), isNull(posts.cardKey)));
  // One transaction per 500 producers: a large community costs a few writes at start, not one per producer.
  for (let i = 0; i < rows.length; i += 500) {
    await deps.database.tx(async (tx) => {
      for (const { userId } of rows.slice(i, i + 500)) {
        const key = jobKey("missing", userId) + Bun.randomUUIDv7();
        await deps.jobs.enqueue(DRAW_CARDS, { userId, only: "missing" } satisfies DrawCardsPayload, { dedupeKey: key, tx });
      }
    });
  }
  if (rows.length) deps.log.info("producers queued for their loops' share cards", { count: rows.length });
  return rows.length;
}

type Author = { username: string; displayName: string };

/** The card's content for a post: its title, producer, facts, the instance's name and the peaks. */
function cardInput(site: string, post: PostRow, author: Author, peaks: readonly number[]): CardInput {
  return {
    title: post.title,
    username: author.username,
    displayName: author.displayName,
    facts: loopFacts({ duration_bars: post.durationBars ?? 0, bpm: post.bpm ?? 0, key: post.key }),
    site,
    peaks,
  };
}

/** Draws a post's card and stores it under a new key, which it returns (the caller points the row at it). */
export async function storeCard(
  deps: Pick<Deps, "config" | "storage" | "database" | "caches">,
  post: PostRow,
  author: Author,
  peaks: readonly number[],
): Promise<string> {
  const bytes = await renderShareCard(cardInput((await instanceSettings(deps)).name, post, author, peaks));
  const key = newKey(["loops", post.id], "png");
  await deps.storage.put(key, bytes, { contentType: "image/png" });
  return key;
}

/** The draw-cards job (exported for tests). */
export async function drawCards(deps: Deps, job: JobInfo<DrawCardsPayload>) {
  const { userId, only } = job.payload;
  // A later job that redraws all the producer's cards reads the name after ours did, so it does our work (and a
  // later backfill does a backfill's); a backfill does not do a redraw's.
  const later = (kind: DrawCardsPayload["only"]) => deps.jobs.hasLaterJob(job.id, jobKey(kind, userId));
  if ((await later("all")) || (only === "missing" && (await later("missing")))) return { skipped: "superseded by a later job" };
  let drawn = 0;
  let failed = 0;
  for (let after = ""; ; ) {
    const [author] = await deps.database.db.select({ username: users.username, displayName: users.displayName }).from(users).where(eq(users.id, userId));
    if (!author) return { skipped: "no such user" };
    const batch = await deps.database.db
      .select()
      .from(posts)
      .where(and(eq(posts.userId, userId), eq(posts.status, "ready"), gt(posts.id, after), only === "missing" ? isNull(posts.cardKey) : undefined))
      .orderBy(asc(posts.id))
      .limit(BATCH);
    for (const post of batch) {
      try {
        const started = performance.now();
        await replaceCard(deps, post, author);
        drawn++;
        // Drawing runs on the server's main thread (~30 ms a card): a producer with many loops, or a backfill of a
        // large community, leaves the server at least four times that between cards to answer requests.
        await Bun.sleep(Math.min(1000, 4 * (performance.now() - started)));
      } catch (err) {
        // One post's failure (its peaks unreadable, storage down) does not stop the others; the next start retries
        // those still without a card.
        failed++;
        deps.log.warn("could not draw a share card", { post_id: post.id, ...errorFields(err) });
      }
    }
    if (batch.length < BATCH) return { drawn, failed };
    after = batch.at(-1)!.id;
  }
}

/** Draws a ready post's card anew and points the row at it; the previous card (if any) is removed afterwards. */
async function replaceCard(deps: Deps, post: PostRow, author: Author) {
  const key = await storeCard(deps, post, author, (await storedPeaks(deps, post.peaksKey)) ?? []);
  const done = await deps.database.tx((tx) =>
    tx
      .update(posts)
      .set({ cardKey: key })
      .where(and(eq(posts.id, post.id), eq(posts.status, "ready")))
      .returning({ id: posts.id }),
  );
  // Deleted meanwhile: its media prefix is gone or going; drop ours too. Otherwise the old card goes.
  const drop = done.length ? post.cardKey : key;
  if (drop) await deps.storage.deleteMany([drop]).catch((err) => deps.log.warn("could not remove an old share card", { key: drop, ...errorFields(err) }));
}

/** The peaks JSON a post already has, or null when it is missing or not an array of numbers. */
export async function storedPeaks(deps: Pick<Deps, "storage">, key: string): Promise<number[] | null> {
  const object = await deps.storage.get(key);
  if (!object) return null;
  try {
    const value: unknown = JSON.parse(await new Response(object.body).text());
    return Array.isArray(value) && value.every((v) => typeof v === "number") ? value : null;
  } catch {
    return null;
  }
}

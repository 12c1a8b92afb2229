// Seeds a realistic community (scripts/bench/feed.ts; the feed query-plan test at a smaller size) straight into a
// database, through the same
// drizzle tables the services write (users, posts, follows, reactions), with their counters exact: post_count,
// follower_count/following_count and like_count are computed from the rows we insert. Skewed like real networks:
// a few producers are followed (and post) far more than the rest (Zipf-like), reactions go mostly to popular posts.
// One prepared INSERT per table inside one transaction per table keeps it fast (seconds for ~800k rows).
import type { Database as SQLite, SQLQueryBindings } from "bun:sqlite";
import { getTableColumns } from "drizzle-orm";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Database } from "../../src/db/client.ts";
import { follows, posts, reactions, users } from "../../src/db/schema.ts";

export type SeedOptions = {
  users: number;
  posts: number;
  follows: number;
  reactions: number;
  /** Posts are spread uniformly over this many days before `now`. */
  days: number;
  /** The bench user (index 0) follows this many producers. */
  benchFollows: number;
  now: number;
  benchPasswordHash: string;
};

export const DEFAULT_SEED: Omit<SeedOptions, "now" | "benchPasswordHash"> = {
  users: 10_000,
  posts: 100_000,
  follows: 200_000,
  reactions: 500_000,
  days: 365,
  benchFollows: 200,
};

export const EMOJI = ["🎵", "❤️", "🔥", "😍", "🚀", "💯"];

/** Deterministic PRNG (mulberry32), so every run seeds the same community. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples ranks 0..n-1 with probability ∝ 1/(rank+1)^s (inverse CDF over a prefix-sum table). */
function zipf(n: number, s: number, random: () => number) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * Inserts rows into a schema table with one prepared statement, inside the caller's transaction. Column names and
 * value encodings (JSON, booleans) come from the drizzle table, so the rows are exactly what the services write;
 * building a multi-row INSERT through drizzle's query builder costs more than SQLite's own work at this size.
 */
function insertRows<T extends Record<string, unknown>>(client: SQLite, table: SQLiteTable, rows: T[]) {
  if (rows.length === 0) return;
  const columns = Object.entries(getTableColumns(table)).filter(([key]) => key in rows[0]!);
  const stmt = client.prepare(
    `INSERT INTO "${getTableConfig(table).name}" (${columns.map(([, c]) => `"${c.name}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
  );
  for (const row of rows) stmt.run(...(columns.map(([key, c]) => (row[key] == null ? null : c.mapToDriverValue(row[key]))) as SQLQueryBindings[]));
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");

export type Seeded = { benchUser: { id: string; username: string; email: string }; counts: Record<string, number>; seconds: number };

/** Seeds into a bun:sqlite database that has its migrations applied (the rows are written on its connection). */
export async function seedCommunity(database: Database, o: SeedOptions): Promise<Seeded> {
  if (database.kind !== "sqlite") throw new Error("seedCommunity writes through bun:sqlite");
  const t0 = performance.now();
  const random = rng(42);

  // Popularity rank → user index: a fixed shuffle, so popular producers are spread over the id space.
  const byRank = Array.from({ length: o.users }, (_, i) => i);
  for (let i = byRank.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [byRank[i], byRank[j]] = [byRank[j]!, byRank[i]!];
  }
  // UUIDv7-like ids in creation order (sortable), our id space.
  const userIds = Array.from({ length: o.users }, (_, i) => `0190${pad(i, 8)}-0000-7000-8000-${pad(i, 12)}`);

  // Posts: popular producers post more (Zipf s=0.7 over popularity), uniform over `days`.
  const postAuthor = zipf(o.users, 0.7, random);
  const postRows: (typeof posts.$inferInsert)[] = [];
  const postCount = new Int32Array(o.users);
  const span = o.days * 86_400_000;
  const times = Array.from({ length: o.posts }, () => o.now - Math.floor(random() * span)).sort((a, b) => a - b);
  for (let i = 0; i < o.posts; i++) {
    const u = byRank[postAuthor()]!;
    postCount[u]!++;
    const id = `0191${pad(i, 8)}-0000-7000-8000-${pad(i, 12)}`;
    postRows.push({
      id,
      userId: userIds[u]!,
      status: "ready",
      title: `Loop ${i}`,
      bpm: 80 + (i % 80),
      key: ["Am", "C", "F#m", "Eb", "G"][i % 5]!,
      daw: "Ableton Live",
      genres: ["lofi"],
      durationBars: 8,
      originalKey: `loops/${id}/original.wav`,
      originalFormat: "wav",
      originalBytes: 1_000_000,
      audioKey: `loops/${id}/audio.mp3`,
      peaksKey: `loops/${id}/peaks.json`,
      waveformKey: `loops/${id}/waveform.svg`,
      // Posts as the current pipeline makes them (with the plugin's renditions and a share card), so a seeded
      // community does not queue 100,000 add-renditions jobs, or draw 100,000 cards, at start.
      oggKey: `loops/${id}/audio.ogg`,
      waveformPngKey: `loops/${id}/waveform.png`,
      cardKey: `loops/${id}/card.png`,
      loudnessLufs: -14,
      truePeakDb: -1,
      durationSeconds: 16,
      sampleCount: 705_600,
      sampleRate: 44_100,
      channels: 2,
      likeCount: 0,
      createdAt: times[i]!,
      updatedAt: times[i]!,
      readyAt: times[i]!,
    });
  }

  // Follows: followees by popularity (Zipf s=1: the top producer has ~10 % of all follows), followers uniform.
  // The bench user (index 0) follows `benchFollows` producers drawn the same way.
  const followee = zipf(o.users, 1, random);
  // Pairs are kept as numeric keys (follower · users + followee, reactor · posts + post): sorted, they put the rows
  // in primary-key order (user ids are zero-padded, so numeric order is id order), and SQLite appends to the
  // primary-key index instead of splitting pages at random.
  const followKeys = new Set<number>();
  const followerCount = new Int32Array(o.users);
  const followingCount = new Int32Array(o.users);
  const addFollow = (a: number, b: number) => {
    const k = a * o.users + b;
    if (a === b || followKeys.has(k)) return;
    followKeys.add(k);
    followerCount[b]!++;
    followingCount[a]!++;
  };
  while (followingCount[0]! < o.benchFollows) addFollow(0, byRank[followee()]!);
  while (followKeys.size < o.follows) addFollow(1 + Math.floor(random() * (o.users - 1)), byRank[followee()]!);
  const followRows: (typeof follows.$inferInsert)[] = [];
  for (const k of Float64Array.from(followKeys).sort()) {
    followRows.push({ followerId: userIds[Math.floor(k / o.users)]!, followeeId: userIds[k % o.users]!, createdAt: o.now - Math.floor(random() * span) });
  }

  // Reactions: posts by popularity of their position in a shuffled order (Zipf s=0.8), reactors uniform.
  const postRank = zipf(o.posts, 0.8, random);
  const postOrder = Array.from({ length: o.posts }, (_, i) => i);
  for (let i = postOrder.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [postOrder[i], postOrder[j]] = [postOrder[j]!, postOrder[i]!];
  }
  const reactionKeys = new Set<number>();
  while (reactionKeys.size < o.reactions) reactionKeys.add(Math.floor(random() * o.users) * o.posts + postOrder[postRank()]!);
  const reactionRows: (typeof reactions.$inferInsert)[] = [];
  for (const k of Float64Array.from(reactionKeys).sort()) {
    const post = postRows[k % o.posts]!;
    post.likeCount!++;
    reactionRows.push({
      userId: userIds[Math.floor(k / o.posts)]!,
      postId: post.id,
      emoji: EMOJI[Math.floor(random() * EMOJI.length)]!,
      createdAt: Math.min(o.now, post.createdAt + Math.floor(random() * 86_400_000)),
    });
  }

  const userRows: (typeof users.$inferInsert)[] = userIds.map((id, i) => ({
    id,
    email: `producer${i}@bench.example`,
    emailVerified: true,
    username: `producer${i}`,
    displayName: `Producer ${i}`,
    passwordHash: i === 0 ? o.benchPasswordHash : null,
    followerCount: followerCount[i]!,
    followingCount: followingCount[i]!,
    postCount: postCount[i]!,
    createdAt: o.now - span - 86_400_000,
    updatedAt: o.now - span - 86_400_000,
  }));

  // One transaction per table.
  const client = (database.db as unknown as { $client: SQLite }).$client;
  await database.tx(async () => insertRows(client, users, userRows));
  await database.tx(async () => insertRows(client, posts, postRows));
  await database.tx(async () => insertRows(client, follows, followRows));
  await database.tx(async () => insertRows(client, reactions, reactionRows));
  return {
    benchUser: { id: userIds[0]!, username: "producer0", email: "producer0@bench.example" },
    counts: { users: userRows.length, posts: postRows.length, follows: followRows.length, reactions: reactionRows.length },
    seconds: (performance.now() - t0) / 1000,
  };
}

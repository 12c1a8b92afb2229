// The feeds through HTTP, on both drivers: one post shape with exact JSON types everywhere, only ready posts,
// timeline = followed + own, the plugin's unified fallback, trending by reactions/plays with time decay, discovery
// without the people you follow, pagination by offset and by cursor (stable while posts arrive), bad parameters
// refused, and a page costing the same number of SQL statements at 20 posts as at 100.
// Posts are written as rows (status and media keys set; the media need not exist), so no ffmpeg runs here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { plays, posts, reactions, users } from "../../src/db/schema.ts";
import { newUserRow } from "../../src/users/service.ts";
import { TRENDING, rankedFeed, trendingScore } from "../../src/social/feeds.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { json, registerUser } from "../support/auth.ts";
import { postTypeProblems } from "../support/post-shape.ts";
import { insertFollow } from "../support/ready-posts.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let seq = 0;

async function addUser(env: TestEnv): Promise<string> {
  seq++;
  const row = newUserRow(
    { email: null, emailVerified: false, username: `feeduser${seq}_${process.pid % 1000}`, displayName: `Feed User ${seq}`, passwordHash: null },
    env.clock.now(),
  );
  await env.deps.database.db.insert(users).values(row);
  return row.id;
}

type PostOpts = { status?: "ready" | "processing" | "failed"; at?: number; title?: string; bare?: boolean };

/** A post row as the upload and the process-loop job leave it (media keys set; the objects need not exist). */
async function addPost(env: TestEnv, userId: string, o: PostOpts = {}): Promise<string> {
  const id = Bun.randomUUIDv7();
  const at = o.at ?? env.clock.now();
  const status = o.status ?? "ready";
  const key = (ext: string) => `loops/${id}/${"0".repeat(32)}.${ext}`;
  await env.deps.database.tx(async (tx) => {
    await tx.insert(posts).values({
      id,
      userId,
      status,
      title: o.title ?? `Loop ${id.slice(-6)}`,
      // `bare`: what an upload without metadata leaves (nulls the API must still show as numbers)
      bpm: o.bare ? null : 124.5,
      key: o.bare ? "" : "Am",
      daw: o.bare ? "" : "Ableton Live",
      genres: o.bare ? [] : ["lofi", "house"],
      durationBars: o.bare ? null : 8,
      originalKey: key("wav"),
      originalFormat: "wav",
      originalBytes: 1,
      audioKey: key("mp3"),
      peaksKey: key("json"),
      waveformKey: key("svg"),
      durationSeconds: status === "ready" && !o.bare ? 15.5 : null,
      loudnessLufs: status === "ready" && !o.bare ? -14.1 : null,
      error: status === "failed" ? "The file is silent" : null,
      errorCode: status === "failed" ? "silent" : null,
      createdAt: at,
      updatedAt: at,
      readyAt: status === "ready" ? at : null,
    });
    if (status === "ready")
      await tx
        .update(users)
        .set({ postCount: sql`${users.postCount} + 1` })
        .where(eq(users.id, userId));
  });
  return id;
}

/** A reaction row and the post's like_count recounted from the rows (what the reactions feature writes). */
async function react(env: TestEnv, userId: string, postId: string, emoji = "🔥") {
  await env.deps.database.tx(async (tx) => {
    await tx.insert(reactions).values({ userId, postId, emoji, createdAt: env.clock.now() });
    await tx
      .update(posts)
      .set({ likeCount: sql`(SELECT count(*) FROM ${reactions} WHERE ${reactions.postId} = ${postId})` })
      .where(eq(posts.id, postId));
  });
}

async function play(env: TestEnv, userId: string, postId: string) {
  await env.deps.database.tx(async (tx) => {
    await tx.insert(plays).values({ id: Bun.randomUUIDv7(), userId, postId, createdAt: env.clock.now() });
    await tx
      .update(posts)
      .set({ playCount: sql`${posts.playCount} + 1` })
      .where(eq(posts.id, postId));
  });
}

type FeedBody = { posts: Record<string, any>[]; meta: { count: number; has_more: boolean; next_cursor: string; source?: string } };

/** GET a feed; every post must have exactly the types of docs/plugin-contract.md "Posts", and the body no `error` key. */
async function feed(env: TestEnv, path: string, token?: string): Promise<FeedBody> {
  const res = await env.request(path, { token, headers: { "content-type": "application/json" } });
  const body = await json(res);
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  // Signed in or not (a page for nobody signed in may be reused bytes), the same headers as every JSON answer.
  expect(res.headers.get("content-type")).toBe("application/json;charset=utf-8");
  expect(res.headers.get("x-request-id")).toBeTruthy();
  expect(body).not.toHaveProperty("error");
  // User-scoped lists also carry total and has_more at the top level (docs/plugin-contract.md "Pagination").
  expect(Object.keys(body).sort()).toEqual(path.includes("/users/") ? ["has_more", "meta", "posts", "total"] : ["meta", "posts"]);
  for (const p of body.posts) expect({ path, id: p.id, problems: postTypeProblems(p) }).toEqual({ path, id: p.id, problems: [] });
  expect(body.meta.count).toBe(body.posts.length);
  expect(typeof body.meta.has_more).toBe("boolean");
  expect(typeof body.meta.next_cursor).toBe("string");
  return body;
}
const ids = (b: FeedBody) => b.posts.map((p) => p.id as string);

/** Every page of a feed by cursor. */
async function allPages(env: TestEnv, path: string, limit: number, token?: string, between?: (page: number) => Promise<void>) {
  const out: string[] = [];
  let cursor = "";
  for (let page = 0; page < 100; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const b = await feed(env, `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`, token);
    out.push(...ids(b));
    expect(b.meta.has_more).toBe(b.meta.next_cursor !== "");
    if (!b.meta.has_more) return out;
    cursor = b.meta.next_cursor;
    await between?.(page);
  }
  throw new Error("too many pages");
}

const ALL_FEEDS = [
  "/api/v1/feed/global",
  "/api/v1/feed/global/enriched",
  "/api/v1/feed/timeline",
  "/api/v1/feed/unified",
  "/api/v1/feed/trending",
  "/api/v1/feed/discovery",
  "/api/v1/recommendations/for-you",
];

for (const driver of DRIVERS) {
  describe(`feeds on ${driver}`, () => {
    let env: TestEnv;
    let viewer: { id: string; token: string };
    let friend: string;
    let stranger: string;
    const p: Record<string, string> = {};

    beforeAll(async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "http://localhost" });
      const { auth } = await registerUser(env);
      viewer = { id: auth.user.id, token: auth.token };
      friend = await addUser(env);
      stranger = await addUser(env);
      const now = env.clock.now();
      await insertFollow(env, viewer.id, friend);
      p.friendOld = await addPost(env, friend, { at: now - 3 * HOUR });
      p.friendBare = await addPost(env, friend, { at: now - 2 * HOUR, bare: true });
      p.friendProcessing = await addPost(env, friend, { at: now - HOUR, status: "processing" });
      p.friendFailed = await addPost(env, friend, { at: now - HOUR, status: "failed" });
      p.own = await addPost(env, viewer.id, { at: now - 90 * 60_000 });
      p.ownProcessing = await addPost(env, viewer.id, { at: now - 30 * 60_000, status: "processing" });
      p.stranger = await addPost(env, stranger, { at: now - 30 * 60_000 });
      p.strangerFailed = await addPost(env, stranger, { at: now - 20 * 60_000, status: "failed" });
      await react(env, viewer.id, p.stranger, "🔥");
      await react(env, friend, p.stranger, "❤️");
      await react(env, stranger, p.friendOld, "🚀");
      await play(env, viewer.id, p.friendOld);
    });
    afterAll(() => env.close());

    test("a user's post list: others see the ready posts and their count, the owner also the unready ones", async () => {
      const friendList = await feed(env, `/api/v1/users/${friend}/posts`, viewer.token);
      expect(friendList.posts.map((x) => x.id).sort()).toEqual([p.friendOld, p.friendBare].sort());
      expect((friendList as unknown as { total: number }).total).toBe(2);
      const own = await feed(env, `/api/v1/users/${viewer.id}/posts`, viewer.token);
      expect(own.posts.map((x) => x.id).sort()).toEqual([p.own, p.ownProcessing].sort());
      expect((own as unknown as { total: number }).total).toBe(2);
      const ownAsStranger = await feed(env, `/api/v1/users/${viewer.id}/posts`);
      expect((ownAsStranger as unknown as { total: number }).total).toBe(1);
    });

    test("a signed-in page served from cached post JSON is byte for byte the page the services build", async () => {
      const { timelineFeed, globalFeed } = await import("../../src/social/feeds.ts");
      for (const [path, build] of [
        ["/api/v1/feed/timeline", () => timelineFeed(env.deps, viewer.id, { limit: 20, offset: 0 })],
        ["/api/v1/feed/global", () => globalFeed(env.deps, viewer.id, { limit: 20, offset: 0 })],
      ] as const) {
        const text = await (await env.request(path, { token: viewer.token })).text();
        const page = await build();
        expect(page.posts.length).toBeGreaterThan(0);
        expect(page.posts.some((x) => x.user_reaction !== "" || x.is_following)).toBe(true); // viewer fields in play
        expect(text).toBe(JSON.stringify(page));
      }
    });

    test("every post in every feed has exactly the contract's post types, with and without a token", async () => {
      for (const path of ALL_FEEDS) {
        const signedIn = await feed(env, path, viewer.token);
        expect(signedIn.posts.length).toBeGreaterThan(0);
        if (!path.includes("timeline") && !path.includes("unified")) expect((await feed(env, path)).posts.length).toBeGreaterThan(0);
      }
      // The plugin's own request shape: Content-Type on a GET, offset paging.
      const b = await feed(env, "/api/v1/feed/global/enriched?limit=20&offset=0", viewer.token);
      expect(ids(b)).toContain(p.friendBare);
      const bare = b.posts.find((x) => x.id === p.friendBare)!;
      expect([bare.bpm, bare.duration_bars, bare.duration_seconds, bare.loudness_lufs]).toEqual([0, 0, 0, 0]);
      // GET /posts/{id} and the user's list carry the same per-viewer fields.
      const one = await json(await env.request(`/api/v1/posts/${p.stranger}`, { token: viewer.token }));
      expect(postTypeProblems(one)).toEqual([]);
      expect([one.user_reaction, one.is_liked, one.reaction_counts]).toEqual(["🔥", true, { "🔥": 1, "❤️": 1 }]);
      const list = await json(await env.request(`/api/v1/users/${friend}/posts`, { token: viewer.token }));
      for (const x of list.posts) expect(postTypeProblems(x)).toEqual([]);
      expect(list.posts.every((x: any) => x.is_following === true)).toBe(true);
    });

    test("per-viewer fields: reactions, likes, following, own post; the same post reads neutral without a token", async () => {
      const b = await feed(env, "/api/v1/feed/global", viewer.token);
      const byId = new Map(b.posts.map((x) => [x.id, x]));
      expect(byId.get(p.stranger)).toMatchObject({
        user_reaction: "🔥",
        is_liked: true,
        is_following: false,
        is_own_post: false,
        like_count: 2,
        reaction_counts: { "🔥": 1, "❤️": 1 },
      });
      expect(byId.get(p.friendOld)).toMatchObject({
        user_reaction: "",
        is_liked: false,
        is_following: true,
        is_own_post: false,
        like_count: 1,
        play_count: 1,
        reaction_counts: { "🚀": 1 },
      });
      expect(byId.get(p.own)).toMatchObject({ is_own_post: true, is_following: false, reaction_counts: {}, is_online: false, is_in_studio: false });
      const anon = await feed(env, "/api/v1/feed/global");
      const s = anon.posts.find((x) => x.id === p.stranger)!;
      expect(s).toMatchObject({ user_reaction: "", is_liked: false, is_following: false, is_own_post: false, reaction_counts: { "🔥": 1, "❤️": 1 } });
    });

    test("authors' presence is live in every feed for their followers only, and hidden for authors who hide their activity", async () => {
      const store = env.deps.presence.store;
      await store.update(friend, { n: 1, status: "in_studio", daw: "Bitwig", at: env.clock.now() });
      await store.update(stranger, { n: 1, status: "in_studio", daw: "Live", at: env.clock.now() });
      try {
        for (const path of ["/api/v1/feed/global", "/api/v1/feed/timeline", "/api/v1/feed/trending"]) {
          const b = await feed(env, path, viewer.token);
          const flags = (id: string) => b.posts.filter((x) => x.user_id === id).map((x) => [x.is_online, x.is_in_studio]);
          expect(flags(friend)).toEqual([
            [true, true],
            [true, true],
          ]);
          // The viewer does not follow the stranger: as over the WebSocket, no presence (docs/security.md, Data exposure).
          expect(flags(stranger).every(([online, studio]) => online === false && studio === false)).toBe(true);
        }
        const anon = await feed(env, "/api/v1/feed/global");
        expect(anon.posts.every((x) => x.is_online === false && x.is_in_studio === false)).toBe(true);
        await env.deps.database.db.update(users).set({ showActivityStatus: false }).where(eq(users.id, friend));
        const hidden = await feed(env, "/api/v1/feed/global", viewer.token);
        expect(hidden.posts.filter((x) => x.user_id === friend).map((x) => x.is_online)).toEqual([false, false]);
      } finally {
        await env.deps.database.db.update(users).set({ showActivityStatus: true }).where(eq(users.id, friend));
        await store.update(friend, null);
        await store.update(stranger, null);
      }
      const gone = await feed(env, "/api/v1/feed/global", viewer.token);
      expect(gone.posts.every((x) => x.is_online === false && x.is_in_studio === false)).toBe(true);
    });

    test("a page read again after any change shows the change at once (the page cache is exact)", async () => {
      const before = (await feed(env, "/api/v1/feed/global")).posts.find((x) => x.id === p.friendBare)!;
      expect(before.reaction_counts).toEqual({});
      await react(env, stranger, p.friendBare, "💯");
      const after = (await feed(env, "/api/v1/feed/global")).posts.find((x) => x.id === p.friendBare)!;
      expect([after.like_count, after.reaction_counts]).toEqual([1, { "💯": 1 }]);
      await env.deps.database.tx(async (tx) => {
        await tx.delete(reactions).where(eq(reactions.postId, p.friendBare!));
        await tx.update(posts).set({ likeCount: 0 }).where(eq(posts.id, p.friendBare!));
      });
      const again = (await feed(env, "/api/v1/feed/global")).posts.find((x) => x.id === p.friendBare)!;
      expect([again.like_count, again.reaction_counts]).toEqual([0, {}]);
    });

    test("a signed-in page read again is reused only while nothing changed: a reaction or an author going live shows at once", async () => {
      const read = async () => await (await env.request("/api/v1/feed/timeline", { token: viewer.token })).text();
      const first = await read();
      expect(await read()).toBe(first); // nothing changed: the same answer (served from the viewer's cached body)
      const target = (JSON.parse(first) as { posts: { id: string; user_id: string; user_reaction: string }[] }).posts.find((x) => x.user_id === friend)!;
      const reaction = (method: string) =>
        env.request(`/api/v1/posts/${target.id}/reaction`, { method, token: viewer.token, json: method === "PUT" ? { emoji: "🚀" } : undefined });
      expect((await reaction("PUT")).status).toBe(200);
      const reacted = JSON.parse(await read()).posts.find((x: { id: string }) => x.id === target.id);
      expect([reacted.user_reaction, reacted.is_liked]).toEqual(["🚀", true]);
      const store = env.deps.presence.store;
      await store.update(friend, { n: 1, status: "online", daw: "", at: env.clock.now() });
      try {
        const live = JSON.parse(await read()).posts.filter((x: { user_id: string }) => x.user_id === friend);
        expect(live.every((x: { is_online: boolean }) => x.is_online)).toBe(true); // presence is not a database write
      } finally {
        await store.update(friend, null);
      }
      expect(JSON.parse(await read()).posts.every((x: { is_online: boolean }) => !x.is_online)).toBe(true);
      expect((await reaction("DELETE")).status).toBe(200);
      expect(JSON.parse(await read()).posts.find((x: { id: string }) => x.id === target.id).user_reaction).toBe("");
    });

    test("a page read while a write transaction is open, which then rolls back, is not kept", async () => {
      const ghost = Bun.randomUUIDv7();
      await expect(
        env.deps.database.tx(async (tx) => {
          const [row] = await tx.select().from(posts).where(eq(posts.id, p.stranger!));
          await tx.insert(posts).values({ ...row!, id: ghost, createdAt: env.clock.now(), recordingId: null, idempotencyKey: null });
          await feed(env, "/api/v1/feed/global"); // on sqlite this read shares the connection and sees the row
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(ids(await feed(env, "/api/v1/feed/global"))).not.toContain(ghost);
    });

    test("processing and failed posts are in no feed, not even their owner's", async () => {
      const hidden = [p.friendProcessing, p.friendFailed, p.ownProcessing, p.strangerFailed];
      for (const path of ALL_FEEDS) {
        const b = await feed(env, `${path}?limit=100`, viewer.token);
        expect(b.posts.every((x) => x.status === "ready")).toBe(true);
        for (const h of hidden) expect(ids(b)).not.toContain(h);
      }
    });

    test("the global feed is every ready post, newest first", async () => {
      const b = await feed(env, "/api/v1/feed/global?limit=100");
      expect(ids(b)).toEqual([p.stranger, p.own, p.friendBare, p.friendOld]);
      expect(b.meta).toEqual({ count: 4, has_more: false, next_cursor: "" });
    });

    test("the timeline is the followed producers' posts and your own, newest first; it needs a token", async () => {
      const b = await feed(env, "/api/v1/feed/timeline", viewer.token);
      expect(ids(b)).toEqual([p.own, p.friendBare, p.friendOld]);
      expect(b.meta.source).toBe("timeline");
      const res = await env.request("/api/v1/feed/timeline");
      expect(res.status).toBe(401);
      expect((await json(res)).error).toBe("unauthorized");
      expect((await env.request("/api/v1/feed/unified")).status).toBe(401);
    });

    test("unified is the timeline, or the global feed while the viewer follows nobody (meta.source)", async () => {
      const { auth } = await registerUser(env);
      const lonely = await feed(env, "/api/v1/feed/unified", auth.token);
      expect(lonely.meta.source).toBe("global");
      expect(ids(lonely)).toEqual([p.stranger, p.own, p.friendBare, p.friendOld]);
      await insertFollow(env, auth.user.id, stranger);
      const following = await feed(env, "/api/v1/feed/unified", auth.token);
      expect(following.meta.source).toBe("timeline");
      expect(ids(following)).toEqual([p.stranger]);
      expect(ids(await feed(env, "/api/v1/feed/unified", viewer.token))).toEqual(ids(await feed(env, "/api/v1/feed/timeline", viewer.token)));
    });

    test("discovery and for-you leave out the people you follow and yourself; without a token they are trending", async () => {
      for (const path of ["/api/v1/feed/discovery", "/api/v1/recommendations/for-you"]) {
        const b = await feed(env, path, viewer.token);
        expect(ids(b)).toEqual([p.stranger]);
        expect(new Set(ids(await feed(env, path)))).toEqual(new Set([p.stranger, p.own, p.friendBare, p.friendOld]));
      }
    });

    test("bad paging parameters are a 400 with the contract's error body, and change nothing", async () => {
      const bad = [
        "/api/v1/feed/global?limit=abc",
        "/api/v1/feed/global?limit=10000",
        "/api/v1/feed/global?limit=0",
        "/api/v1/feed/global?limit=-1",
        "/api/v1/feed/global?offset=-5",
        "/api/v1/feed/global?offset=1.5",
        "/api/v1/feed/global?cursor=not-a-cursor",
        "/api/v1/feed/timeline?cursor=%7B%7D",
        "/api/v1/feed/global?cursor=WzEsMl0&offset=3",
        "/api/v1/feed/trending?cursor=not-a-cursor",
        "/api/v1/feed/discovery?limit=101",
        "/api/v1/recommendations/for-you?limit=x",
      ];
      for (const path of bad) {
        const res = await env.request(path, { token: viewer.token });
        const body = await json(res);
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
        expect(typeof body.error).toBe("string");
        expect(body.error.length).toBeGreaterThan(0);
      }
      // A chronological cursor is not a ranked one, and the other way round.
      const g = await feed(env, "/api/v1/feed/global?limit=1");
      const t = await feed(env, "/api/v1/feed/trending?limit=1");
      expect((await env.request(`/api/v1/feed/trending?cursor=${g.meta.next_cursor}`)).status).toBe(400);
      expect((await env.request(`/api/v1/feed/global?cursor=${t.meta.next_cursor}`)).status).toBe(400);
    });

    test("an offset past the end is an empty page with has_more false, on every feed", async () => {
      for (const path of ALL_FEEDS) {
        const b = await feed(env, `${path}?offset=500`, viewer.token);
        expect(b.posts).toEqual([]);
        expect(b.meta).toMatchObject({ count: 0, has_more: false, next_cursor: "" });
      }
    });
  });

  describe(`feed pagination on ${driver}`, () => {
    let env: TestEnv;
    let viewer: { id: string; token: string };
    let authors: string[];
    const newest = () => env.clock.now();

    beforeAll(async () => {
      env = await createTestEnv(driver, { PUBLIC_URL: "http://localhost" });
      const { auth } = await registerUser(env);
      viewer = { id: auth.user.id, token: auth.token };
      authors = [await addUser(env), await addUser(env), await addUser(env)];
      await insertFollow(env, viewer.id, authors[0]!);
      await insertFollow(env, viewer.id, authors[1]!);
      // 45 posts, several sharing one millisecond (the keyset breaks ties on id), over a few hours.
      const base = env.clock.now() - 10 * HOUR;
      for (let i = 0; i < 45; i++) await addPost(env, i % 5 === 4 ? viewer.id : authors[i % 3]!, { at: base + Math.floor(i / 3) * 60_000 });
    });
    afterAll(() => env.close());

    test("offset pages cover the feed once, in order, with has_more false on the last", async () => {
      const whole = ids(await feed(env, "/api/v1/feed/global?limit=100"));
      expect(whole).toHaveLength(45);
      const paged: string[] = [];
      for (let offset = 0; ; offset += 10) {
        const b = await feed(env, `/api/v1/feed/global?limit=10&offset=${offset}`);
        paged.push(...ids(b));
        expect(b.meta.has_more).toBe(offset + 10 < 45);
        if (!b.meta.has_more) break;
      }
      expect(paged).toEqual(whole);
    });

    for (const path of ["/api/v1/feed/global", "/api/v1/feed/timeline", "/api/v1/feed/unified"]) {
      test(`${path}: cursor pages stay exact while new posts arrive between them (no duplicates, no gaps)`, async () => {
        const before = ids(await feed(env, `${path}?limit=100`, viewer.token));
        const seen = await allPages(env, path, 7, viewer.token, async () => {
          // New posts land on top, including one in the very millisecond of the newest post.
          env.clock.advance(1000);
          await addPost(env, authors[0]!, { at: newest() });
          await addPost(env, viewer.id, { at: newest() });
        });
        expect(seen).toEqual(before);
        expect(new Set(seen).size).toBe(seen.length);
      });
    }

    test("ranked feeds: cursor pages continue the ranking as of the first page, new posts do not shift it", async () => {
      for (const path of ["/api/v1/feed/trending", "/api/v1/feed/discovery"]) {
        env.clock.advance(TRENDING.cacheMs);
        const before = ids(await feed(env, `${path}?limit=100`, viewer.token));
        const seen = await allPages(env, path, 6, viewer.token, async () => {
          env.clock.advance(TRENDING.cacheMs); // the ranking is recomputed between pages
          await addPost(env, authors[2]!, { at: newest() });
        });
        expect(seen).toEqual(before);
        expect(new Set(seen).size).toBe(seen.length);
      }
    });

    test("a 20-post page and a 100-post page cost the same number of SQL statements, on every feed", async () => {
      // Enough posts for a full 100-post page of every feed (authors[2] is the one the viewer does not follow).
      for (let i = 0; i < 110; i++) {
        await addPost(env, authors[0]!, { at: newest() - 20 * HOUR - i * 1000 });
        await addPost(env, authors[2]!, { at: newest() - 20 * HOUR - i * 1000 });
      }
      // Reactions on everything, from the viewer too, so every enrichment branch has rows to read.
      const all = await env.deps.database.db.select({ id: posts.id }).from(posts).where(eq(posts.status, "ready"));
      for (const { id } of all.slice(0, 60)) await react(env, viewer.id, id, "💯");
      const target = all[0]!.id;
      env.clock.advance(TRENDING.cacheMs); // the ranked feeds see the new posts once their ranking is recomputed
      const paths = [...ALL_FEEDS, `/api/v1/users/${authors[0]}/posts`];
      const invalidate = () =>
        env.deps.database.db
          .update(users)
          .set({ updatedAt: sql`${users.updatedAt} + 1` })
          .where(eq(users.id, viewer.id));
      const counter = countStatements(env);
      try {
        for (const path of paths) {
          await feed(env, `${path}?limit=20`, viewer.token); // warm: ranking snapshot, statement caches
          const cost = async (limit: number) => {
            await invalidate(); // a write: the page is built again (on sqlite, unchanged pages come from the cache)
            counter.n = 0;
            const res = await env.request(`${path}?limit=${limit}`, { token: viewer.token });
            const body = await json(res);
            expect({ path, n: body.posts.length }).toEqual({ path, n: limit });
            return counter.n;
          };
          const small = await cost(20);
          const big = await cost(100);
          expect({ path, small, big }).toEqual({ path, small: big, big });
          // auth (session and user: 1) + the feed (≤ 2; + 1 for unified's follows check or discovery's followees)
          // + reaction counts (1) + the viewer's reactions and follows (1), and on sqlite the version check of
          // each of the three cached reads (auth, page, viewer's fields: 3): a small constant.
          expect(big).toBeLessThanOrEqual(driver === "sqlite" ? 9 : 6);
          if (driver === "sqlite" && !path.includes("/users/")) {
            // Nothing written since: the same page again is three version checks (db/read-cache.ts: the session
            // and user, the page, the viewer's reactions and follows), each answered from its cache; unified also
            // asks whether the viewer follows anyone.
            counter.n = 0;
            const res = await env.request(`${path}?limit=100`, { token: viewer.token });
            expect((await json(res)).posts.length).toBe(100);
            expect({ path, hit: counter.n }).toEqual({ path, hit: path.includes("unified") ? 4 : 3 });
          }
        }
        counter.n = 0;
        expect((await env.request(`/api/v1/posts/${target}`, { token: viewer.token })).status).toBe(200);
        // auth 1 (session joined with its user; on bun:sqlite a hit in its cache: one version check), the post 1,
        // reaction counts 1, the viewer's fields 1 (on bun:sqlite a miss: its version check, 1 more)
        expect(counter.n).toBe(env.deps.database.kind === "sqlite" ? 5 : 4);
      } finally {
        counter.stop();
      }
    });
  });

  describe(`trending on ${driver}`, () => {
    let env: TestEnv;
    let token: string;
    let viewerId: string;
    let fans: string[];

    beforeAll(async () => {
      // The clock moves days ahead here: a token that lives as long as the scenario.
      env = await createTestEnv(driver, { PUBLIC_URL: "http://localhost", ACCESS_TOKEN_TTL_S: String(30 * 86400) });
      const { auth } = await registerUser(env);
      token = auth.token;
      viewerId = auth.user.id;
      fans = [];
      for (let i = 0; i < 6; i++) fans.push(await addUser(env));
    });
    afterAll(() => env.close());

    test("the score formula: (likes + 0.5·plays + 1) / (age_hours + 2)^1.5", () => {
      expect(trendingScore(0, 0, 0)).toBeCloseTo(1 / 2 ** 1.5, 12);
      expect(trendingScore(5, 4, 2 * HOUR)).toBeCloseTo(8 / 8, 12);
      expect(trendingScore(3, 0, 7 * HOUR)).toBeCloseTo(4 / 27, 12);
    });

    test("order follows reactions and plays, and decays with age", async () => {
      const now = env.clock.now();
      const author = fans[5]!;
      const fresh = await addPost(env, author, { at: now - 1 * HOUR }); // 1 / 3^1.5 ≈ 0.19
      const liked = await addPost(env, author, { at: now - 2 * HOUR }); // 5 likes: 6 / 8 = 0.75
      const played = await addPost(env, author, { at: now - 2 * HOUR }); // 4 plays: 3 / 8 = 0.375
      const olderLiked = await addPost(env, author, { at: now - 30 * HOUR }); // 5 likes: 6 / 32^1.5 ≈ 0.033
      for (const f of fans.slice(0, 5)) await react(env, f, liked, "🔥");
      for (const f of fans.slice(0, 5)) await react(env, f, olderLiked, "❤️");
      for (const f of fans.slice(0, 4)) await play(env, f, played);
      env.clock.advance(TRENDING.cacheMs);
      const t1 = await feed(env, "/api/v1/feed/trending", token);
      expect(ids(t1)).toEqual([liked, played, fresh, olderLiked]);
      expect(t1.posts[0]).toMatchObject({ like_count: 5, reaction_counts: { "🔥": 5 } });

      // Two days later the likes still carry `liked`, but a brand-new post outranks everything (decay).
      env.clock.advance(2 * DAY);
      const newer = await addPost(env, author, { at: env.clock.now() }); // 1 / 2^1.5 ≈ 0.35
      const t2 = await feed(env, "/api/v1/feed/trending", token);
      // liked: 6/52^1.5 ≈ 0.016; olderLiked: 6/80^1.5 ≈ 0.0084; played: 3/52^1.5 ≈ 0.008; fresh: 1/51^1.5 ≈ 0.0027
      expect(ids(t2)).toEqual([newer, liked, olderLiked, played, fresh]);

      // Discovery ranks the same way without the viewer's follows.
      await insertFollow(env, viewerId, author);
      env.clock.advance(TRENDING.cacheMs);
      expect(ids(await feed(env, "/api/v1/feed/discovery", token))).toEqual([]);
    });

    test("the window is the last 7 days once it holds enough posts; a quiet community falls back to its newest posts", async () => {
      const now = env.clock.now();
      const author = fans[4]!;
      const old = await addPost(env, author, { at: now - 8 * DAY });
      for (const f of fans.slice(0, 5)) await react(env, f, old, "🔥");
      // Few posts in the window: the newest ones count whatever their age, so the old post still trends.
      env.clock.advance(TRENDING.cacheMs);
      const quiet = await rankedFeed(env.deps, null, { limit: 100, offset: 0 }, { excludeFollowed: false });
      expect(quiet.posts.map((x) => x.id)).toContain(old);
      // A busy week: the window alone (≥ minCandidates posts) and the 8-day-old post is out.
      const rows = Array.from({ length: TRENDING.minCandidates }, (_, i) => i);
      for (const i of rows) await addPost(env, author, { at: env.clock.now() - 6 * DAY + i * 1000 });
      env.clock.advance(TRENDING.cacheMs);
      const busy = await rankedFeed(env.deps, null, { limit: 100, offset: 0 }, { excludeFollowed: false });
      expect(busy.posts.map((x) => x.id)).not.toContain(old);
      expect(busy.meta.has_more).toBe(true);
    });
  });
}

/** Counts SQL statements sent to the database (both our prepared ones and drizzle's) by wrapping the client. */
function countStatements(env: TestEnv) {
  const client = (env.deps.database.db as unknown as { $client: Record<string, (...a: unknown[]) => unknown> }).$client;
  const counter = { n: 0, stop: () => {} };
  const names = env.deps.database.kind === "sqlite" ? ["query", "prepare"] : ["execute"];
  const originals = names.map((name) => [name, client[name]!] as const);
  for (const [name, fn] of originals) {
    client[name] = function (this: unknown, ...args: unknown[]) {
      counter.n++;
      return fn.apply(this, args);
    };
  }
  counter.stop = () => {
    for (const [name, fn] of originals) client[name] = fn;
  };
  return counter;
}

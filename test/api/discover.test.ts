// Discover as the plugin uses it, on both drivers (README "Discover"; docs/plugin-contract.md "Discover"). The plugin's
// calls are upstream zfogg/sidechain plugin/src/network/api/DiscoveryClient.cpp (GET /discover/trending?limit,
// /discover/featured?limit, /discover/suggested?limit, /discover/genre/{genre}?limit&offset, /discover/genres,
// /users/{id}/similar?limit, /users/recommended?limit&offset) and FeedClient.cpp (getSimilarPosts:
// /recommendations/similar-posts/{id}?limit). plugin/src/stores/UserDiscoveryStore.cpp reads `users` from an object
// (DiscoveredUser::fromJson, plugin/src/ui/social/UserCard.h) and `genres` as strings; FeedClient's
// parseFeedResponse reads `posts` as FeedPost and `meta.count` / `meta.has_more`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, inArray } from "drizzle-orm";
import { posts } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { type Body, readOk } from "../support/api-read.ts";
import { json, registerProducer, type Producer } from "../support/auth.ts";
import { insertFollow, insertPost, markReady } from "../support/ready-posts.ts";
import { parseFeed, parseUser, pluginError, PluginClient } from "../support/plugin-client.ts";

type Opts = { title: string; bpm?: number | null; key?: string; genres?: string[]; status?: "processing" };

/** A loop as uploads make it, made ready the way the process-loop job does (unless it stays processing). */
async function addPost(env: TestEnv, userId: string, o: Opts): Promise<string> {
  const id = await insertPost(env, userId, o.title, { bpm: o.bpm === undefined ? 120 : o.bpm, key: o.key ?? "Am", genres: o.genres ?? ["lofi"] });
  if (o.status !== "processing") await markReady(env, id);
  env.clock.advance(1000);
  return id;
}

const get = readOk;

async function refused(env: TestEnv, path: string, status: number, error: string, token?: string) {
  const res = await env.request(`/api/v1${path}`, { token, headers: { "content-type": "application/json" } });
  const body = await json(res);
  expect({ path, status: res.status, error: body.error, message: typeof body.message }).toEqual({ path, status, error, message: "string" });
}

const idsOf = (b: Body) => (b.posts ?? b.users).map((x: Body) => x.id as string);

for (const driver of DRIVERS) {
  describe(`discover (${driver})`, () => {
    let env: TestEnv;
    let owner: Producer;
    let alice: Producer;
    let bob: Producer;
    let carol: Producer;
    let dave: Producer;
    let erin: Producer;
    let vic: Producer;
    let newbie: Producer;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      env = await createTestEnv(driver);
      owner = await registerProducer(env, { username: "staffowner" });
      alice = await registerProducer(env, { username: "alicebeats" });
      bob = await registerProducer(env, { username: "bobloops" });
      carol = await registerProducer(env, { username: "carolsynth" });
      dave = await registerProducer(env, { username: "davedrums" });
      erin = await registerProducer(env, { username: "erinkeys" });
      vic = await registerProducer(env, { username: "vicviewer" });
      newbie = await registerProducer(env, { username: "newbie" });
      // The source: 120 BPM, A minor, Lofi and Jazz.
      ids.source = await addPost(env, alice.id, { title: "Source", bpm: 120, key: "Am", genres: ["Lofi", "Jazz"] });
      ids.relative = await addPost(env, bob.id, { title: "Relative", bpm: 120, key: "C", genres: ["lofi"] });
      ids.plus3 = await addPost(env, bob.id, { title: "Plus3", bpm: 123, key: "Am", genres: ["JAZZ"] });
      ids.plus3over = await addPost(env, bob.id, { title: "Plus3over", bpm: 123.1, key: "Am", genres: ["lofi"] });
      ids.minus3 = await addPost(env, carol.id, { title: "Minus3", bpm: 117, key: "Am", genres: ["lofi"] });
      ids.minus3over = await addPost(env, carol.id, { title: "Minus3over", bpm: 116.9, key: "Am", genres: ["lofi"] });
      ids.half = await addPost(env, carol.id, { title: "Half", bpm: 61.5, key: "Am", genres: ["lofi"] });
      ids.halfover = await addPost(env, carol.id, { title: "Halfover", bpm: 58.4, key: "Am", genres: ["lofi"] });
      ids.double = await addPost(env, dave.id, { title: "Double", bpm: 246, key: "C", genres: ["lofi"] });
      ids.doubleover = await addPost(env, dave.id, { title: "Doubleover", bpm: 233.9, key: "C", genres: ["lofi"] });
      ids.otherKey = await addPost(env, dave.id, { title: "OtherKey", bpm: 120, key: "Em", genres: ["lofi"] });
      ids.parallel = await addPost(env, dave.id, { title: "Parallel", bpm: 120, key: "A", genres: ["lofi"] });
      ids.noGenre = await addPost(env, dave.id, { title: "NoGenre", bpm: 120, key: "Am", genres: ["House"] });
      ids.bothGenres = await addPost(env, dave.id, { title: "BothGenres", bpm: 121, key: "Am", genres: ["Jazz", "Lofi"] });
      ids.processing = await addPost(env, dave.id, { title: "Processing", bpm: 120, key: "Am", genres: ["lofi"], status: "processing" });
      ids.erins = await addPost(env, erin.id, { title: "Erins", bpm: 120.5, key: "Am", genres: ["lofi"] });
    }, 60_000);
    afterAll(() => env.close());

    test("similar loops: shared genre, same or relative key, BPM ±3 or half/double time (boundaries in); closest, then newest", async () => {
      const body = await get(env, `/recommendations/similar-posts/${ids.source}?limit=20`);
      const names = (body.posts as Body[]).map((p) => p.filename);
      // dist 0: Relative (C is A minor's relative major); 0.5: Erins; 1: BothGenres (two shared genres, once);
      // 3: Double (246 = 2 × 123), Half (61.5 × 2 = 123), Minus3, Plus3, newest first.
      expect(names).toEqual(["Relative", "Erins", "BothGenres", "Double", "Half", "Minus3", "Plus3"]);
      expect(body.meta).toEqual({ count: 7, has_more: false, next_cursor: "" });
      // The REST spelling answers the same.
      expect(idsOf(await get(env, `/posts/${ids.source}/similar?limit=20`))).toEqual(idsOf(body));
      // From the other side: the relative-major loop finds the minor one, and half time works downward too.
      const fromDouble = (await get(env, `/posts/${ids.double}/similar?limit=20`)).posts.map((p: Body) => p.filename);
      expect(fromDouble).toContain("Plus3over"); // 123.1 is within 3 of 246 / 2 = 123
      expect(fromDouble).not.toContain("Double");
    });

    test("similar loops page by offset and by cursor without repeats", async () => {
      const all = idsOf(await get(env, `/recommendations/similar-posts/${ids.source}?limit=20`));
      const byOffset: string[] = [];
      for (let offset = 0; offset < 10; offset += 3)
        byOffset.push(...idsOf(await get(env, `/recommendations/similar-posts/${ids.source}?limit=3&offset=${offset}`)));
      expect(byOffset).toEqual(all);
      const byCursor: string[] = [];
      let cursor = "";
      do {
        const page = await get(env, `/posts/${ids.source}/similar?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
        byCursor.push(...idsOf(page));
        cursor = page.meta.next_cursor;
      } while (cursor);
      expect(byCursor).toEqual(all);
    });

    test("genres with counts: ready loops only, any case counted together, most used first", async () => {
      const body = await get(env, "/discover/genres");
      expect(body.genres.every((g: unknown) => typeof g === "string")).toBe(true);
      const counts = Object.fromEntries((body.genre_counts as Body[]).map((c) => [c.genre.toLowerCase(), c.post_count]));
      expect(counts).toEqual({ lofi: 13, jazz: 3, house: 1 });
      expect(body.genres.map((g: string) => g.toLowerCase())).toEqual(["lofi", "jazz", "house"]);
      expect(body.genre_counts.map((c: Body) => c.genre)).toEqual(body.genres);
      expect((await get(env, "/discover/genres?limit=1")).genres).toHaveLength(1);
    });

    test("loops by genre: any case, newest first, the page's producers; paging without repeats; unknown genre empty", async () => {
      const jazz = await get(env, "/discover/genre/jAzZ?limit=20&offset=0");
      expect(jazz.posts.map((p: Body) => p.filename)).toEqual(["BothGenres", "Plus3", "Source"]);
      expect(jazz.users.map((u: Body) => u.username)).toEqual(["davedrums", "bobloops", "alicebeats"]);
      const all = idsOf(await get(env, "/discover/genre/lofi?limit=100"));
      expect(all).toHaveLength(13);
      expect(all).not.toContain(ids.processing);
      const paged: string[] = [];
      let cursor = "";
      do {
        const page = await get(env, `/discover/genre/Lofi?limit=4${cursor ? `&cursor=${cursor}` : ""}`);
        paged.push(...idsOf(page));
        cursor = page.meta.next_cursor;
      } while (cursor);
      expect(paged).toEqual(all);
      const byOffset: string[] = [];
      for (let offset = 0; offset < 13; offset += 5) byOffset.push(...idsOf(await get(env, `/discover/genre/lofi?limit=5&offset=${offset}`)));
      expect(byOffset).toEqual(all);
      expect(await get(env, "/discover/genre/polka")).toEqual({ posts: [], users: [], meta: { count: 0, has_more: false, next_cursor: "" } });
    });

    test("genres with spaces and accents in the path; a genre repeated in another case is one genre of the loop", async () => {
      const id = await addPost(env, bob.id, { title: "Spaced", bpm: 120, key: "Am", genres: ["Tech House", "Música", "TECH HOUSE"] });
      expect(idsOf(await get(env, `/discover/genre/${encodeURIComponent("tech house")}`))).toEqual([id]);
      expect(idsOf(await get(env, `/discover/genre/${encodeURIComponent("Música")}`))).toEqual([id]);
      const counts = (await get(env, "/discover/genres")).genre_counts as Body[];
      expect(counts.find((c) => c.genre.toLowerCase() === "tech house")?.post_count).toBe(1);
      // Two genres shared with a loop of the same genres: listed once.
      const twin = await addPost(env, carol.id, { title: "Twin", bpm: 120, key: "C", genres: ["música", "tech house"] });
      expect(idsOf(await get(env, `/posts/${id}/similar?limit=50`))).toEqual([twin]);
      await env.deps.database.db.delete(posts).where(inArray(posts.id, [id, twin]));
    });

    test("an edit of a loop's genres, key or BPM, and its deletion, change discover at once", async () => {
      const id = await addPost(env, bob.id, { title: "Edited", bpm: 90, key: "Dm", genres: ["Polka"] });
      expect(idsOf(await get(env, "/discover/genre/polka"))).toEqual([id]);
      await env.deps.database.db
        .update(posts)
        .set({ genres: ["Jazz"], bpm: 119, key: "Am" })
        .where(eq(posts.id, id));
      expect(idsOf(await get(env, "/discover/genre/polka"))).toEqual([]);
      expect(idsOf(await get(env, `/posts/${ids.source}/similar?limit=20`))).toContain(id);
      await env.deps.database.db.delete(posts).where(eq(posts.id, id));
      expect(idsOf(await get(env, `/posts/${ids.source}/similar?limit=20`))).not.toContain(id);
      expect((await get(env, "/discover/genres")).genres.map((g: string) => g.toLowerCase())).not.toContain("polka");
    });

    test("blocked either way and muted producers are left out, pages stay full; anonymous readers see everyone", async () => {
      const anon = idsOf(await get(env, `/posts/${ids.source}/similar?limit=20`));
      expect(anon).toContain(ids.erins);
      const block = await env.request("/api/v1/social/block", { method: "POST", json: { target_user_id: vic.id }, token: erin.token });
      expect(block.status).toBe(201);
      const mute = await env.request("/api/v1/social/mute", { method: "POST", json: { target_user_id: dave.id }, token: vic.token });
      expect(mute.status).toBe(201);
      const seen = await get(env, `/posts/${ids.source}/similar?limit=3`, vic.token);
      expect(seen.posts.map((p: Body) => p.filename)).toEqual(["Relative", "Half", "Minus3"]);
      expect(seen.meta.has_more).toBe(true);
      const lofi = await get(env, "/discover/genre/lofi?limit=100", vic.token);
      expect(lofi.posts.some((p: Body) => p.user_id === erin.id || p.user_id === dave.id)).toBe(false);
      expect(lofi.users.map((u: Body) => u.id)).not.toContain(erin.id);
      // The blocker's loop is a 404 to the blocked viewer, like everywhere.
      await refused(env, `/posts/${ids.erins}/similar`, 404, "post_not_found", vic.token);
      await refused(env, `/users/${erin.id}/similar`, 404, "user_not_found", vic.token);
      expect(idsOf(await get(env, `/posts/${ids.source}/similar?limit=20`))).toEqual(anon);
      await env.request("/api/v1/social/unblock", { method: "POST", json: { target_user_id: vic.id }, token: erin.token });
      await env.request("/api/v1/social/unmute", { method: "POST", json: { target_user_id: dave.id }, token: vic.token });
    });

    test("producers you may like: followed by your follows, ranked by how many; excluded sets; new users get popular", async () => {
      // vic follows alice and bob; alice follows carol, dave and vic; bob follows carol, erin and newbie (inactive).
      for (const [a, b] of [
        [vic, alice],
        [vic, bob],
        [alice, carol],
        [alice, dave],
        [alice, vic],
        [bob, carol],
        [bob, erin],
        [bob, newbie],
        [carol, dave],
        [owner, carol],
      ] as const)
        await insertFollow(env, a.id, b.id);
      const liked = await get(env, "/users/recommended?limit=10&offset=0", vic.token);
      expect(liked.source).toBe("following");
      expect(liked.users[0].username).toBe("carolsynth"); // followed by both of vic's follows
      expect(liked.users.map((u: Body) => u.username).sort()).toEqual(["carolsynth", "davedrums", "erinkeys"]);
      // The plugin's /discover/suggested is the same list.
      expect(idsOf(await get(env, "/discover/suggested?limit=10", vic.token))).toEqual(idsOf(liked));
      // Not someone vic already follows, nor vic, nor blocked, muted or suspended producers.
      await insertFollow(env, vic.id, dave.id);
      await env.request("/api/v1/social/mute", { method: "POST", json: { target_user_id: erin.id }, token: vic.token });
      expect((await get(env, "/users/recommended", vic.token)).users.map((u: Body) => u.username)).toEqual(["carolsynth"]);
      await env.request("/api/v1/social/unmute", { method: "POST", json: { target_user_id: erin.id }, token: vic.token });
      const suspend = await env.request(`/api/v1/admin/users/${carol.id}/suspend`, { method: "POST", json: { reason: "spam" }, token: owner.token });
      expect(suspend.status).toBe(200);
      expect((await get(env, "/users/recommended", vic.token)).users.map((u: Body) => u.username)).toEqual(["erinkeys"]);
      // A suspended producer's loops are withheld: gone from similar loops and genres.
      expect(idsOf(await get(env, `/posts/${ids.source}/similar?limit=20`))).not.toContain(ids.minus3);
      const back = await env.request(`/api/v1/admin/users/${carol.id}/unsuspend`, { method: "POST", json: { reason: "" }, token: owner.token });
      expect(back.status).toBe(200);
      expect(idsOf(await get(env, `/posts/${ids.source}/similar?limit=20`))).toContain(ids.minus3);
      // Someone who follows nobody (and anyone signed out) gets active popular producers: most followed first.
      await insertFollow(env, erin.id, carol.id);
      const fresh = await get(env, "/users/recommended?limit=3", newbie.token);
      expect(fresh.source).toBe("popular");
      expect(fresh.users[0].username).toBe("carolsynth"); // 4 followers, then dave's 3
      expect(fresh.users.map((u: Body) => u.id)).not.toContain(newbie.id);
      expect(fresh.meta.has_more).toBe(true);
      const anon = await get(env, "/users/recommended?limit=100");
      expect(anon.source).toBe("popular");
      // Inactive producers (no loop, never seen online in 30 days) are not suggested: newbie, vic, owner.
      expect(anon.users.map((u: Body) => u.username).sort()).toEqual(["alicebeats", "bobloops", "carolsynth", "davedrums", "erinkeys"]);
    });

    test("featured, trending and similar producers answer real lists in the plugin's shape", async () => {
      const featured = await get(env, "/discover/featured?limit=2");
      expect(featured.users.map((u: Body) => u.username)).toEqual(["carolsynth", "davedrums"]);
      const trending = await get(env, "/discover/trending?limit=10");
      expect(trending.users.length).toBeGreaterThan(0);
      expect(new Set(idsOf(trending)).size).toBe(trending.users.length);
      // People who follow carol (alice, bob, owner) also follow dave (alice), erin, newbie, vic (bob, alice).
      const like = await get(env, `/users/${carol.id}/similar?limit=10`);
      expect(like.users.map((u: Body) => u.username)).not.toContain("carolsynth");
      expect(like.users.map((u: Body) => u.username)).toContain("davedrums");
      expect(idsOf(await get(env, "/users/carolsynth/similar"))).toEqual(idsOf(like));
    });

    test("bad input: unknown loop or user 404 in the error shape, absurd limits clamped, bad numbers and cursors 400", async () => {
      await refused(env, "/recommendations/similar-posts/nope", 404, "post_not_found");
      await refused(env, `/posts/${ids.processing}/similar`, 404, "post_not_found", bob.token);
      await refused(env, "/users/nobody-here/similar", 404, "user_not_found");
      expect((await get(env, "/discover/genre/lofi?limit=100000")).posts.length).toBe(13);
      expect((await get(env, "/discover/genre/lofi?limit=0")).posts.length).toBe(1);
      expect((await get(env, "/discover/genre/lofi?offset=99999999")).posts).toEqual([]);
      expect((await get(env, "/discover/genres?limit=-4")).genres).toHaveLength(1);
      expect((await get(env, "/discover/featured?limit=5000")).users.length).toBeLessThanOrEqual(100);
      await refused(env, "/discover/genre/lofi?limit=ten", 400, "validation_error");
      await refused(env, "/discover/genre/lofi?cursor=garbage", 400, "validation_error");
      await refused(env, `/posts/${ids.source}/similar?cursor=${(await get(env, "/discover/genre/lofi?limit=1")).meta.next_cursor}`, 400, "validation_error");
      await refused(env, "/users/recommended?cursor=abc&offset=2", 400, "validation_error");
      // A loop without a key or BPM has no similar loops: an empty list, not an error.
      const plain = await addPost(env, alice.id, { title: "NoKey", bpm: null, key: "", genres: ["lofi"] });
      expect(await get(env, `/posts/${plain}/similar`)).toEqual({ posts: [], meta: { count: 0, has_more: false, next_cursor: "" } });
      await env.deps.database.db.delete(posts).where(eq(posts.id, plain));
    });

    test("through the plugin-like client: its URLs and its parse of users, genres and posts", async () => {
      const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => env.app.handle(req) });
      try {
        const c = new PluginClient(`http://127.0.0.1:${server.port}`);
        c.token = vic.token;
        // UserDiscoveryStore: getTrendingUsers(10), getFeaturedProducers(10), getSuggestedUsers(10),
        // getRecommendedUsersToFollow(10, 0), getSimilarUsers(id, 10): an object with `users`, each a User.
        for (const path of [
          "/api/v1/discover/trending?limit=10",
          "/api/v1/discover/featured?limit=10",
          "/api/v1/discover/suggested?limit=10",
          "/api/v1/users/recommended?limit=10&offset=0",
          `/api/v1/users/${alice.id}/similar?limit=10`,
          "/api/v1/discover/genre/Lofi?limit=30&offset=0",
        ]) {
          const body = await c.get(path);
          expect({ path, error: pluginError(body) }).toEqual({ path, error: "" });
          expect(Array.isArray(body.users)).toBe(true);
          for (const u of body.users) expect(parseUser(u).id).toBe(u.id);
        }
        // getAvailableGenres: `genres`, each read as a string.
        const genres = await c.get("/api/v1/discover/genres");
        expect(genres.genres.every((g: unknown) => typeof g === "string")).toBe(true);
        // getSimilarPosts: the feed parse (posts as FeedPost, meta.count, meta.has_more).
        const feed = parseFeed(await c.get(`/api/v1/recommendations/similar-posts/${ids.source}?limit=10`));
        expect(feed.dropped).toEqual([]);
        expect(feed.posts.length).toBeGreaterThan(0);
        expect(pluginError(await c.get("/api/v1/recommendations/similar-posts/unknown?limit=10"))).toBe("post_not_found");
        expect(c.sent.every((s) => s.method === "GET" && s.headers["Content-Type"] === "application/json")).toBe(true);
      } finally {
        server.stop(true);
      }
    });
  });
}

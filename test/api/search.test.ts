// Search as the plugin uses it, on both drivers: GET /search/posts, /search/users, /search/autocomplete/users|genres
// and /search/suggestions with the query parameters and the JSON the plugin parses type-strictly (upstream
// zfogg/sidechain plugin/src/network/api/SearchClient.cpp builds the URLs: q, limit, offset, genre, bpm_min,
// bpm_max, key; plugin/src/stores/app/Search.cpp reads `posts` as FeedPost::fromJson and `total_count`;
// plugin/src/network/api/DiscoveryClient.cpp reads `users`; the autocompletes read `suggestions` as strings).
// Requests carry Content-Type: application/json as the plugin's do. The index is kept by triggers in the
// transactions that change posts and users: a loop is found once ready and not before, a title edit, a username
// change, a deletion and a suspension show at once. Filters (BPM range, key with its spellings and relative
// major/minor, genre, DAW, duration), blocked producers hidden both ways, pagination without repeats, and text
// that is FTS5 syntax never an error.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { posts, users } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { type Body, readOk } from "../support/api-read.ts";
import { json, registerProducer, type Producer } from "../support/auth.ts";
import { insertPost, markReady } from "../support/ready-posts.ts";
import { newUserRow } from "../../src/users/service.ts";
import { parseFeed, parseUser, pluginError, PluginClient } from "../support/plugin-client.ts";

const PASSWORD = "correct horse battery staple"; // newUserInput's

type Opts = { title: string; bpm?: number | null; key?: string; daw?: string; genres?: string[]; duration?: number; status?: string };

/** A ready post row as the process-loop job leaves it (media keys set; the objects need not exist). */
async function addPost(env: TestEnv, userId: string, o: Opts): Promise<string> {
  const id = Bun.randomUUIDv7();
  const now = env.clock.now();
  const key = (ext: string) => `loops/${id}/${"0".repeat(32)}.${ext}`;
  await env.deps.database.tx(async (tx) => {
    await tx.insert(posts).values({
      id,
      userId,
      status: o.status ?? "ready",
      title: o.title,
      bpm: o.bpm === undefined ? 120 : o.bpm,
      key: o.key ?? "",
      daw: o.daw ?? "",
      genres: o.genres ?? [],
      durationBars: 8,
      originalKey: key("wav"),
      originalFormat: "wav",
      originalBytes: 1,
      audioKey: key("mp3"),
      peaksKey: key("json"),
      waveformKey: key("svg"),
      durationSeconds: o.duration ?? 16,
      loudnessLufs: -14,
      createdAt: now,
      updatedAt: now,
      readyAt: now,
    });
    await tx
      .update(users)
      .set({ postCount: sql`${users.postCount} + 1` })
      .where(eq(users.id, userId));
  });
  env.clock.advance(1000);
  return id;
}

const get = readOk;

async function refused(env: TestEnv, path: string, field: string) {
  const res = await env.request(`/api/v1${path}`, { headers: { "content-type": "application/json" } });
  const body = await json(res);
  expect({ path, status: res.status, error: body.error }).toEqual({ path, status: 400, error: "validation_error" });
  expect(body.fields).toHaveProperty(field);
}

const titles = (b: Body) => (b.posts as Body[]).map((p) => p.filename as string).sort();

for (const driver of DRIVERS) {
  describe(`search (${driver})`, () => {
    let env: TestEnv;
    let owner: Producer;
    let alice: Producer;
    let bob: Producer;
    let carol: Producer;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      env = await createTestEnv(driver);
      owner = await registerProducer(env, { username: "staffowner" });
      alice = await registerProducer(env, { username: "alicebeats", display_name: "Alice Keys" });
      bob = await registerProducer(env, { username: "bobloops", display_name: "Bob Marley Jr" });
      carol = await registerProducer(env, { username: "carolsynth", display_name: "Carol" });
      ids.dusty = await addPost(env, alice.id, { title: "Dusty Rhodes", bpm: 90, key: "Am", daw: "Ableton Live", genres: ["Lofi", "Jazz"], duration: 12 });
      ids.night = await addPost(env, alice.id, { title: "Night Drive", bpm: 124, key: "C", daw: "FL Studio", genres: ["House"], duration: 30 });
      ids.sunset = await addPost(env, bob.id, { title: "Sunset Chords", bpm: 96, key: "Gbm", daw: "Ableton Live", genres: ["lofi"], duration: 8 });
      ids.acid = await addPost(env, bob.id, { title: "Acid Night", bpm: 130, key: "A", daw: "Bitwig Studio", genres: ["Techno", "Acid"], duration: 20 });
      ids.beyonce = await addPost(env, carol.id, { title: "Café Déjà Vu", bpm: null, key: "", genres: ["Tech House"], duration: 15 });
      ids.failed = await addPost(env, carol.id, { title: "Night Failed", status: "failed" });
    }, 60_000);
    afterAll(() => env.close());

    test("loops by title words (last word a prefix), producer, genre, DAW; newest first; ready posts only", async () => {
      expect(titles(await get(env, "/search/posts?q=night&limit=20&offset=0"))).toEqual(["Acid Night", "Night Drive"]);
      const byPrefix = await get(env, "/search/posts?q=sun");
      expect(titles(byPrefix)).toEqual(["Sunset Chords"]);
      // Every word must match.
      expect(titles(await get(env, "/search/posts?q=night%20acid"))).toEqual(["Acid Night"]);
      // Producer by username and by display name.
      expect(titles(await get(env, "/search/posts?q=alicebeats"))).toEqual(["Dusty Rhodes", "Night Drive"]);
      expect(titles(await get(env, "/search/posts?q=Marley"))).toEqual(["Acid Night", "Sunset Chords"]);
      // Genre and DAW words; diacritics folded both ways.
      expect(titles(await get(env, "/search/posts?q=bitwig"))).toEqual(["Acid Night"]);
      expect(titles(await get(env, "/search/posts?q=jazz"))).toEqual(["Dusty Rhodes"]);
      expect(titles(await get(env, "/search/posts?q=cafe%20deja"))).toEqual(["Café Déjà Vu"]);
      // Newest first, and the answer the plugin reads.
      const night = await get(env, "/search/posts?q=night");
      expect(night.posts.map((p: Body) => p.id)).toEqual([ids.acid, ids.night]);
      expect(Object.keys(night).sort()).toEqual(["meta", "posts", "total_count"]);
      expect(night.total_count).toBe(2);
      expect(night.meta).toEqual({ count: 2, has_more: false, next_cursor: "" });
      // The same post object as the feeds (bpm unknown is 0, a number).
      const cafe = (await get(env, "/search/posts?q=cafe")).posts[0];
      expect(cafe.bpm).toBe(0);
      expect(cafe.genres).toEqual(["Tech House"]);
    });

    test("filters: BPM range, key with its spellings and relative, genre, DAW, duration; combined with text", async () => {
      expect(titles(await get(env, "/search/posts?bpm_min=95&bpm_max=125"))).toEqual(["Night Drive", "Sunset Chords"]);
      expect(titles(await get(env, "/search/posts?bpm_min=125"))).toEqual(["Acid Night"]);
      // Am: itself and its relative C major.
      expect(titles(await get(env, "/search/posts?key=Am"))).toEqual(["Dusty Rhodes", "Night Drive"]);
      expect(titles(await get(env, "/search/posts?key=A%20minor&relative=false"))).toEqual(["Dusty Rhodes"]);
      expect(titles(await get(env, "/search/posts?key=8A&relative=false"))).toEqual(["Dusty Rhodes"]);
      // F#m is stored as Gbm (another spelling); its relative is A major.
      expect(titles(await get(env, "/search/posts?key=F%23m"))).toEqual(["Acid Night", "Sunset Chords"]);
      expect(titles(await get(env, "/search/posts?key=F%E2%99%AF%20minor&relative=0"))).toEqual(["Sunset Chords"]);
      // Genre exactly (any case): "house" is not "Tech House".
      expect(titles(await get(env, "/search/posts?genre=house"))).toEqual(["Night Drive"]);
      expect(titles(await get(env, "/search/posts?genre=LOFI"))).toEqual(["Dusty Rhodes", "Sunset Chords"]);
      expect(titles(await get(env, "/search/posts?genre=tech%20house"))).toEqual(["Café Déjà Vu"]);
      expect(titles(await get(env, "/search/posts?daw=ableton%20live"))).toEqual(["Dusty Rhodes", "Sunset Chords"]);
      expect(titles(await get(env, "/search/posts?duration_min=10&duration_max=16"))).toEqual(["Café Déjà Vu", "Dusty Rhodes"]);
      // Text + BPM range + key, as the plugin sends them.
      expect(titles(await get(env, "/search/posts?q=night&limit=20&offset=0&bpm_min=100&bpm_max=199&key=Am"))).toEqual(["Night Drive"]);
      expect(titles(await get(env, "/search/posts?q=night&genre=techno&daw=bitwig%20studio"))).toEqual(["Acid Night"]);
      expect(titles(await get(env, "/search/posts?q=night&key=Bbm"))).toEqual([]);
    });

    test("the index follows the posts: processing, ready, title edit, deletion", async () => {
      const id = await insertPost(env, alice.id, "Midnight Marimba");
      expect(titles(await get(env, "/search/posts?q=marimba"))).toEqual([]);
      await markReady(env, id);
      expect(titles(await get(env, "/search/posts?q=marimba"))).toEqual(["Midnight Marimba"]);
      await env.deps.database.db.update(posts).set({ title: "Midnight Kalimba" }).where(eq(posts.id, id));
      expect(titles(await get(env, "/search/posts?q=marimba"))).toEqual([]);
      expect(titles(await get(env, "/search/posts?q=kalimba"))).toEqual(["Midnight Kalimba"]);
      // Counters (reactions, plays) do not touch the index: still found, still once.
      await env.deps.database.db.update(posts).set({ likeCount: 5, playCount: 9 }).where(eq(posts.id, id));
      expect((await get(env, "/search/posts?q=kalimba")).posts.map((p: Body) => p.id)).toEqual([id]);
      // The producer deletes it (the plugin's DELETE arrives as a bodiless GET; the REST route here).
      const del = await env.request(`/api/v1/posts/${id}`, { method: "DELETE", token: alice.token });
      expect(del.status).toBe(200);
      expect(titles(await get(env, "/search/posts?q=kalimba"))).toEqual([]);
    });

    test("a username or display name change re-labels the producer's loops and profile", async () => {
      const res = await env.request("/api/v1/users/username", { method: "PUT", json: { username: "carolwaves" }, token: carol.token });
      expect(res.status).toBe(200);
      expect(titles(await get(env, "/search/posts?q=carolsynth"))).toEqual([]);
      expect(titles(await get(env, "/search/posts?q=carolwaves"))).toEqual(["Café Déjà Vu"]);
      expect((await get(env, "/search/users?q=carolsynth")).users).toEqual([]);
      expect((await get(env, "/search/users?q=carolw")).users.map((u: Body) => u.username)).toEqual(["carolwaves"]);
      const profile = await env.request("/api/v1/users/me", { method: "PUT", json: { display_name: "Caroline Modular" }, token: carol.token });
      expect(profile.status).toBe(200);
      expect(titles(await get(env, "/search/posts?q=modular"))).toEqual(["Café Déjà Vu"]);
      expect((await get(env, "/search/users?q=caroline")).users.map((u: Body) => u.username)).toEqual(["carolwaves"]);
    });

    test("a suspended producer and their loops are not found; found again when unsuspended", async () => {
      const suspend = await env.request(`/api/v1/admin/users/${bob.id}/suspend`, { method: "POST", json: { reason: "spam" }, token: owner.token });
      expect(suspend.status).toBe(200);
      expect(titles(await get(env, "/search/posts?q=sunset"))).toEqual([]);
      expect((await get(env, "/search/users?q=bobloops")).users).toEqual([]);
      expect(await get(env, "/search/autocomplete/users?q=bobl&limit=10")).toEqual({ suggestions: [], count: 0 });
      const back = await env.request(`/api/v1/admin/users/${bob.id}/unsuspend`, { method: "POST", json: { reason: "" }, token: owner.token });
      expect(back.status).toBe(200);
      // Suspension ended Bob's sessions: he signs in again.
      const login = await env.request("/api/v1/auth/login", { method: "POST", json: { email: bob.email, password: PASSWORD } });
      bob.token = (await json(login)).auth.token;
      expect(titles(await get(env, "/search/posts?q=sunset"))).toEqual(["Sunset Chords"]);
      expect((await get(env, "/search/users?q=bobloops")).users.map((u: Body) => u.id)).toEqual([bob.id]);
    });

    test("accounts waiting for approval are not found until approved; a deleted account leaves the index", async () => {
      const row = { ...newUserRow({ email: null, emailVerified: false, username: "pendingpat", displayName: "Pat", passwordHash: null }, env.clock.now()) };
      await env.deps.database.db.insert(users).values({ ...row, approval: "pending" });
      expect((await get(env, "/search/users?q=pendingpat")).users).toEqual([]);
      await env.deps.database.db.update(users).set({ approval: "approved" }).where(eq(users.id, row.id));
      expect((await get(env, "/search/users?q=pendingpat")).users.map((u: Body) => u.id)).toEqual([row.id]);
      await addPost(env, row.id, { title: "Goodbye Groove", genres: ["Farewell"] });
      expect(titles(await get(env, "/search/posts?q=goodbye"))).toEqual(["Goodbye Groove"]);
      await env.deps.database.db.delete(users).where(eq(users.id, row.id));
      expect((await get(env, "/search/users?q=pendingpat")).users).toEqual([]);
      expect(titles(await get(env, "/search/posts?q=goodbye"))).toEqual([]);
      expect((await get(env, "/search/autocomplete/genres?q=farew")).suggestions).toEqual([]);
    });

    test("producers by username and display name, with the viewer's follow state", async () => {
      const found = await get(env, "/search/users?q=alice&limit=20&offset=0");
      expect(found.users.map((u: Body) => u.username)).toEqual(["alicebeats"]);
      expect(found.total_count).toBe(1);
      expect(Object.keys(found).sort()).toEqual(["meta", "total_count", "users"]);
      expect((await get(env, "/search/users?q=keys")).users.map((u: Body) => u.username)).toEqual(["alicebeats"]);
      const follow = await env.request("/api/v1/social/follow", { method: "POST", json: { target_user_id: alice.id }, token: carol.token });
      expect(follow.status).toBe(201);
      const seen = await get(env, "/search/users?q=alice", carol.token);
      expect(seen.users[0].is_following).toBe(true);
      expect(seen.users[0].follower_count).toBe(1);
      const posts = await get(env, "/search/posts?q=dusty", carol.token);
      expect(posts.posts[0].is_following).toBe(true);
      expect(posts.posts[0].is_own_post).toBe(false);
    });

    test("autocomplete of usernames and genres, and suggestions, as lists of strings", async () => {
      expect(await get(env, "/search/autocomplete/users?q=ali&limit=10")).toEqual({ suggestions: ["alicebeats"], count: 1 });
      // Display name words too, each as a prefix.
      expect((await get(env, "/search/autocomplete/users?q=bob%20mar")).suggestions).toEqual(["bobloops"]);
      expect(await get(env, "/search/autocomplete/genres?q=lo&limit=10")).toEqual({ suggestions: ["Lofi"], count: 1 });
      expect((await get(env, "/search/autocomplete/genres?q=TE")).suggestions.sort()).toEqual(["Tech House", "Techno"]);
      expect((await get(env, "/search/autocomplete/genres?q=zz")).suggestions).toEqual([]);
      const s = await get(env, "/search/suggestions?q=ac&limit=10");
      expect(s.suggestions).toEqual(["Acid", "Acid Night"]);
      expect(s.count).toBe(2);
      expect((await get(env, "/search/suggestions?q=a&limit=1")).suggestions.length).toBe(1);
    });

    test("genre counts follow the loops: a deleted loop's only genre leaves the autocomplete", async () => {
      const id = await addPost(env, alice.id, { title: "Polka Dots", genres: ["Polka", "polka"] });
      expect((await get(env, "/search/autocomplete/genres?q=pol")).suggestions).toEqual(["Polka"]);
      await env.deps.database.db
        .update(posts)
        .set({ genres: ["Zydeco"] })
        .where(eq(posts.id, id));
      expect((await get(env, "/search/autocomplete/genres?q=pol")).suggestions).toEqual([]);
      expect((await get(env, "/search/autocomplete/genres?q=zyd")).suggestions).toEqual(["Zydeco"]);
      await env.deps.database.db.delete(posts).where(eq(posts.id, id));
      expect((await get(env, "/search/autocomplete/genres?q=zyd")).suggestions).toEqual([]);
    });

    test("blocked producers are hidden both ways in every search", async () => {
      const block = await env.request("/api/v1/social/block", { method: "POST", json: { target_user_id: bob.id }, token: alice.token });
      expect(block.status).toBe(201);
      for (const [viewer, other, q, name] of [
        [alice, bob, "sunset", "bobloops"],
        [bob, alice, "dusty", "alicebeats"],
      ] as const) {
        expect(titles(await get(env, `/search/posts?q=${q}`, viewer.token))).toEqual([]);
        expect((await get(env, `/search/users?q=${name}`, viewer.token)).users).toEqual([]);
        expect((await get(env, `/search/autocomplete/users?q=${name.slice(0, 4)}`, viewer.token)).suggestions).toEqual([]);
        expect((await get(env, `/search/suggestions?q=${q}`, viewer.token)).suggestions).toEqual([]);
        // Others still find them.
        expect((await get(env, `/search/users?q=${name}`, carol.token)).users.map((u: Body) => u.id)).toEqual([other.id]);
      }
      await env.request("/api/v1/social/unblock", { method: "POST", json: { target_user_id: bob.id }, token: alice.token });
      expect(titles(await get(env, "/search/posts?q=sunset", alice.token))).toEqual(["Sunset Chords"]);
    });

    test("pagination by offset (the plugin) and by cursor: every match once, in order", async () => {
      const made: string[] = [];
      for (let i = 0; i < 7; i++) made.unshift(await addPost(env, carol.id, { title: `Pager ${i}`, bpm: 100, key: "Dm" }));
      const byOffset: string[] = [];
      for (let offset = 0; offset < 10; offset += 3) {
        const page = await get(env, `/search/posts?q=pager&limit=3&offset=${offset}`);
        byOffset.push(...page.posts.map((p: Body) => p.id));
        expect(page.total_count).toBe(Math.min(offset + 3, 7) + (page.meta.has_more ? 1 : 0));
        if (!page.meta.has_more) break;
      }
      expect(byOffset).toEqual(made);
      const byCursor: string[] = [];
      let cursor = "";
      for (let i = 0; i < 5; i++) {
        const page = await get(env, `/search/posts?q=pager&key=Dm&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
        byCursor.push(...page.posts.map((p: Body) => p.id));
        cursor = page.meta.next_cursor;
        if (i === 0) await addPost(env, carol.id, { title: "Pager late", key: "Dm" }); // newer: not shifting the pages
        if (!cursor) break;
      }
      expect(byCursor).toEqual(made);
      // Producers page the same way (most followed first, then by id).
      for (let i = 0; i < 5; i++) await registerProducer(env, { username: `pagerperson${i}`, display_name: `Pager Person ${i}` });
      const all = (await get(env, "/search/users?q=pager&limit=10")).users.map((u: Body) => u.id);
      expect(all.length).toBe(5);
      const paged: string[] = [];
      cursor = "";
      for (let i = 0; i < 5; i++) {
        const page = await get(env, `/search/users?q=pager&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
        paged.push(...page.users.map((u: Body) => u.id));
        cursor = page.meta.next_cursor;
        if (!cursor) break;
      }
      expect(paged).toEqual(all);
      const third = await get(env, "/search/users?q=pager&limit=2&offset=4");
      expect(third.users.map((u: Body) => u.id)).toEqual(all.slice(4));
      expect(third.total_count).toBe(5);
    });

    test("FTS5 syntax and odd text are plain words: never an error, never an injection", async () => {
      const before = await env.deps.database.db.select({ n: sql<number>`count(*)` }).from(posts);
      for (const q of [
        '"',
        '""',
        "*",
        "night*",
        "NEAR(",
        "NEAR(night acid)",
        "-",
        "-night",
        ":",
        "title:night",
        "night OR x",
        "NOT night",
        "AND",
        '"night',
        "night\"'; DROP TABLE posts; --",
        "{title}: x",
        "^night",
        "(",
        ")",
        "…",
        "🎵",
        "\u0301",
        "\0night",
        "night\0",
        "a".repeat(200),
      ]) {
        const res = await env.request(`/api/v1/search/posts?q=${encodeURIComponent(q)}`, { headers: { "content-type": "application/json" } });
        expect({ q, status: res.status }).toEqual({ q, status: 200 });
        const body = await json(res);
        expect(body).not.toHaveProperty("error");
        for (const path of ["users", "autocomplete/users", "autocomplete/genres", "suggestions"]) {
          const r = await env.request(`/api/v1/search/${path}?q=${encodeURIComponent(q)}`, { headers: { "content-type": "application/json" } });
          expect({ q, path, status: r.status }).toEqual({ q, path, status: 200 });
        }
      }
      // Words stay words: "NEAR(night" finds nothing called near; "title:night" is the words title and night.
      expect(titles(await get(env, `/search/posts?q=${encodeURIComponent("-night")}`))).toEqual(["Acid Night", "Night Drive"]);
      expect(titles(await get(env, `/search/posts?q=${encodeURIComponent("*")}`))).toEqual([]);
      expect(titles(await get(env, `/search/posts?q=${encodeURIComponent('"night')}`))).toEqual(["Acid Night", "Night Drive"]);
      const after = await env.deps.database.db.select({ n: sql<number>`count(*)` }).from(posts);
      expect(after).toEqual(before);
    });

    test("through the plugin-like client: its URLs, its parse of posts and users, its read of total_count", async () => {
      const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => env.app.handle(req) });
      try {
        const c = new PluginClient(`http://127.0.0.1:${server.port}`);
        c.token = carol.token;
        // NetworkClient::searchPosts (SearchClient.cpp): q, limit, offset, then genre, bpm_min, bpm_max, key when set.
        const body = await c.get(`/api/v1/search/posts?q=${encodeURIComponent("night")}&limit=20&offset=0&bpm_min=100&bpm_max=199&key=Am`);
        expect(pluginError(body)).toBe("");
        const feed = parseFeed(body);
        expect(feed.dropped).toEqual([]);
        expect(feed.posts.map((p) => p.id)).toEqual([ids.night]);
        // AppStore::searchPosts (stores/app/Search.cpp): hasMoreResults = posts.size() < total_count.
        expect(feed.posts.length < body.total_count).toBe(false);
        const paged = await c.get("/api/v1/search/posts?q=pager&limit=1&offset=0");
        expect(paged.posts.length < paged.total_count).toBe(true);
        // searchUsers (DiscoveryClient.cpp) hands `users` to User's from_json.
        const users = await c.get("/api/v1/search/users?q=alice&limit=20&offset=0");
        expect(users.users.map((u: unknown) => parseUser(u).username)).toEqual(["alicebeats"]);
        // autocompleteUsers / autocompleteGenres take `suggestions` and read each entry as a string.
        const names = await c.get("/api/v1/search/autocomplete/users?q=al&limit=10");
        expect(names.suggestions.every((x: unknown) => typeof x === "string")).toBe(true);
        expect(pluginError(await c.get("/api/v1/search/suggestions?q=ni&limit=10"))).toBe("");
        // A refused search is a failure to the plugin (a non-empty `error`).
        expect(pluginError(await c.get("/api/v1/search/posts?q=&limit=20&offset=0"))).toBe("validation_error");
        // Every request went out as the plugin sends it: GET with Content-Type: application/json and the token.
        for (const sent of c.sent)
          expect([sent.method, sent.headers["Content-Type"], sent.headers.Authorization]).toEqual(["GET", "application/json", `Bearer ${carol.token}`]);
      } finally {
        server.stop(true);
      }
    });

    test("while the community is sign in to view, a stranger's search is 401 sign_in_required; a member's works", async () => {
      const set = (on: boolean) => env.request("/api/v1/admin/settings", { method: "PUT", token: owner.token, json: { sign_in_to_view: on } });
      expect((await set(true)).status).toBe(200);
      try {
        for (const path of ["posts?q=night", "users?q=alice", "autocomplete/users?q=al", "autocomplete/genres?q=lo", "suggestions?q=ni"]) {
          const res = await env.request(`/api/v1/search/${path}`, { headers: { "content-type": "application/json" } });
          expect({ path, status: res.status, error: (await json(res)).error }).toEqual({ path, status: 401, error: "sign_in_required" });
        }
        // (Its media URLs are signed for the hour; post-shape's URL checks expect plain ones, so the titles only.)
        const member = await env.request("/api/v1/search/posts?q=night", { token: carol.token, headers: { "content-type": "application/json" } });
        expect(member.status).toBe(200);
        const body = await json(member);
        expect(titles(body)).toEqual(["Acid Night", "Night Drive"]);
        expect(body.posts[0].audio_url).toContain("sig=");
      } finally {
        expect((await set(false)).status).toBe(200);
      }
    });

    test("bad input is a 400 validation_error naming the field; nothing else", async () => {
      await refused(env, "/search/posts", "q");
      await refused(env, "/search/posts?q=%20%20", "q");
      await refused(env, `/search/posts?q=${"a".repeat(201)}`, "q");
      await refused(env, "/search/posts?q=x&bpm_min=fast", "bpm_min");
      await refused(env, "/search/posts?q=x&bpm_min=-5", "bpm_min");
      await refused(env, "/search/posts?q=x&bpm_max=1e9", "bpm_max");
      await refused(env, "/search/posts?q=x&bpm_min=130&bpm_max=90", "bpm_max");
      await refused(env, "/search/posts?q=x&duration_min=20&duration_max=10", "duration_max");
      await refused(env, "/search/posts?q=x&key=H%20minor", "key");
      await refused(env, "/search/posts?q=x&relative=maybe", "relative");
      await refused(env, `/search/posts?q=x&genre=${"g".repeat(51)}`, "genre");
      await refused(env, "/search/posts?q=x&limit=0", "limit");
      await refused(env, "/search/posts?q=x&limit=101", "limit");
      await refused(env, "/search/posts?q=x&offset=-1", "offset");
      await refused(env, "/search/posts?q=x&cursor=bm9wZQ", "cursor");
      await refused(env, "/search/posts?q=x&cursor=WyJwIiwxXQ&offset=3", "cursor");
      // A producers' cursor is not a loops' cursor.
      await refused(env, `/search/posts?q=x&cursor=${Buffer.from('["u",1]').toString("base64url")}`, "cursor");
      await refused(env, "/search/users", "q");
      await refused(env, "/search/users?q=", "q");
      await refused(env, "/search/autocomplete/users?q=", "q");
      await refused(env, "/search/autocomplete/genres", "q");
      await refused(env, "/search/suggestions?q=a&limit=51", "limit");
      await refused(env, "/search/autocomplete/users?q=a&limit=x", "limit");
    });
  });
}

// Saved loops as the plugin saves them (plugin/src/network/api/SocialClient.cpp: savePost is a POST without a body
// and unsavePost a DELETE, so both reach us as GET /posts/{id}/save; getSavedPosts reads /users/me/saved?limit&offset;
// plugin/src/models/FeedPost.cpp reads save_count and is_saved), on bun:sqlite and on a real sqld. The count is
// exact through toggles, repeats, deletions of the loop and of the saver; the list shows only what the saver may see.
import { afterEach, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { posts } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, json, registerProducer, type Producer } from "../support/auth.ts";
import { postTypeProblems } from "../support/post-shape.ts";
import { insertPost, insertReadyPost } from "../support/ready-posts.ts";

let env: TestEnv;
afterEach(() => env?.close());

// The plugin sends Content-Type: application/json on GETs too.
const get = (path: string, who?: Producer) => env.request(`/api/v1${path}`, { token: who?.token, headers: { "content-type": "application/json" } });
const send = (method: "POST" | "DELETE", path: string, who: Producer, body?: unknown) =>
  env.request(`/api/v1${path}`, { method, token: who.token, ...(body === undefined ? {} : { json: body }) });
const saveCount = async (id: string) => (await env.deps.database.db.select({ n: posts.saveCount }).from(posts).where(eq(posts.id, id)))[0]?.n;
const savedIds = async (who: Producer, query = "?limit=50&offset=0") =>
  ((await json(await get(`/users/me/saved${query}`, who))).posts as { id: string }[]).map((p) => p.id);

for (const driver of DRIVERS) {
  describe(`saves on ${driver}`, () => {
    test("the plugin's toggle, the state in every feed, the list newest first, exact counts", async () => {
      env = await createTestEnv(driver);
      const [maker, fan, other] = [await registerProducer(env), await registerProducer(env), await registerProducer(env)];
      const loops = [await insertReadyPost(env, maker.id, "One"), await insertReadyPost(env, maker.id, "Two"), await insertReadyPost(env, maker.id, "Three")];

      // Save (the plugin's bodiless POST, arriving as GET), then the state as the feeds show it.
      expect(await json(await get(`/posts/${loops[0]}/save`, fan))).toEqual({ is_saved: true, save_count: 1 });
      expect(await json(await get(`/posts/${loops[0]}/save`, other))).toEqual({ is_saved: true, save_count: 2 });
      const feed = (await json(await get("/feed/global?limit=10", fan))).posts as Record<string, unknown>[];
      for (const p of feed) expect(postTypeProblems(p)).toEqual([]);
      expect(feed.find((p) => p.id === loops[0])).toMatchObject({ is_saved: true, save_count: 2 });
      expect(feed.find((p) => p.id === loops[1])).toMatchObject({ is_saved: false, save_count: 0 });
      // (A bodiless JSON GET of one's own post is the plugin's delete: read it as other clients do.)
      expect((await json(await env.request(`/api/v1/posts/${loops[0]}`, { token: maker.token }))).is_saved).toBe(false);
      expect((await json(await get(`/posts/${loops[0]}`))).save_count).toBe(2);

      // Unsave (the plugin's DELETE, also a GET) takes it back; explicit verbs are idempotent.
      expect(await json(await get(`/posts/${loops[0]}/save`, other))).toEqual({ is_saved: false, save_count: 1 });
      for (let i = 0; i < 2; i++) expect(await json(await send("POST", `/posts/${loops[1]}/save`, fan))).toEqual({ is_saved: true, save_count: 1 });
      env.clock.advance(1000);
      expect(await json(await send("POST", `/posts/${loops[2]}/save`, fan))).toEqual({ is_saved: true, save_count: 1 });
      for (let i = 0; i < 2; i++) expect(await json(await send("DELETE", `/posts/${loops[1]}/save`, fan))).toEqual({ is_saved: false, save_count: 0 });
      env.clock.advance(1000);
      expect(await json(await send("POST", `/posts/${loops[1]}/save`, fan))).toEqual({ is_saved: true, save_count: 1 });

      // Newest first; the plugin pages by offset, others by cursor.
      expect(await savedIds(fan)).toEqual([loops[1], loops[2], loops[0]]);
      expect(await savedIds(fan, "?limit=1&offset=1")).toEqual([loops[2]]);
      const first = await json(await get("/users/me/saved?limit=2", fan));
      expect(first.has_more).toBe(true);
      expect(await savedIds(fan, `?limit=2&cursor=${first.meta.next_cursor}`)).toEqual([loops[0]]);
      for (const p of first.posts) expect(p.is_saved).toBe(true);
      expect(await savedIds(other)).toEqual([]);
      expect([await saveCount(loops[0]), await saveCount(loops[1]), await saveCount(loops[2])]).toEqual([1, 1, 1]);
    });
  });
}

describe("saves: what may be saved and what the list shows", () => {
  test("unknown, unpublished and hidden loops are refused and change nothing; no token is 401", async () => {
    env = await createTestEnv("sqlite");
    const [maker, fan] = [await registerProducer(env), await registerProducer(env)];
    const draft = await insertPost(env, maker.id, "Draft");
    await expectError(await get("/posts/no-such-loop/save", fan), 404, "post_not_found");
    await expectError(await send("POST", "/posts/no-such-loop/save", fan), 404, "post_not_found");
    await expectError(await get(`/posts/${draft}/save`, fan), 404, "post_not_found");
    await expectError(await get(`/posts/${draft}/save`), 401, "unauthorized");
    await expectError(await get("/users/me/saved"), 401, "unauthorized");
    await expectError(await get("/users/me/saved?limit=0", fan), 400, "validation_error");
    const [{ n }] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM saves`);
    expect(Number(n)).toBe(0);
  });

  test("a block hides a saved loop from the list (and refuses saving it) until it is lifted; unsaving still works", async () => {
    env = await createTestEnv("sqlite");
    const [maker, fan] = [await registerProducer(env), await registerProducer(env)];
    const loop = await insertReadyPost(env, maker.id, "Kept");
    expect((await get(`/posts/${loop}/save`, fan)).status).toBe(200);
    expect((await send("POST", "/social/block", maker, { target_user_id: fan.id })).status).toBe(201);
    expect(await savedIds(fan)).toEqual([]);
    await expectError(await send("POST", `/posts/${loop}/save`, fan), 404, "post_not_found");
    expect((await send("POST", "/social/unblock", maker, { target_user_id: fan.id })).status).toBe(200);
    expect(await savedIds(fan)).toEqual([loop]);
    expect((await send("POST", "/social/block", maker, { target_user_id: fan.id })).status).toBe(201);
    expect(await json(await send("DELETE", `/posts/${loop}/save`, fan))).toEqual({ is_saved: false, save_count: 0 });
  });

  test("deleting the loop removes its saves; deleting a saver recounts the loops they had saved", async () => {
    env = await createTestEnv("sqlite");
    const [maker, fan, leaver] = [await registerProducer(env), await registerProducer(env), await registerProducer(env)];
    const [kept, doomed] = [await insertReadyPost(env, maker.id, "Kept"), await insertReadyPost(env, maker.id, "Doomed")];
    for (const who of [fan, leaver]) for (const id of [kept, doomed]) expect((await send("POST", `/posts/${id}/save`, who)).status).toBe(200);
    expect((await send("DELETE", `/posts/${doomed}`, maker)).status).toBe(200);
    expect(await savedIds(fan)).toEqual([kept]);
    const password = "correct horse battery staple";
    const gone = await env.request("/api/v1/users/me/delete", { method: "POST", token: leaver.token, json: { password } });
    expect(gone.status).toBe(200);
    expect(await saveCount(kept)).toBe(1);
    const [{ n }] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM saves`);
    expect(Number(n)).toBe(1);
  });
});

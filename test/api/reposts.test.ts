// Reposts as the plugin makes them (plugin/src/network/api/SocialClient.cpp: repostPost is a POST to
// /posts/{id}/repost with {quote} when there is one, undoRepost a DELETE without a body, which arrives as GET;
// plugin/src/models/FeedPost.cpp reads repost_count, is_reposted, and on a repost entry is_a_repost and the
// original_* fields, taking the mere presence of original_post_id for a repost; plugin/src/models/Notification.h
// knows the verb "repost"), on bun:sqlite and on a real sqld: the toggle, exact counts, the producer's notification
// and its removal, the timeline's "reposted by" entries (once per loop, paging without repeats or gaps), what blocks
// and mutes hide, deletions, and bad input refused without a write.
import { afterEach, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { posts } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, json, registerProducer, type Producer } from "../support/auth.ts";
import { postTypeProblems } from "../support/post-shape.ts";
import { insertFollow, insertPost, insertReadyPost } from "../support/ready-posts.ts";
import { parseFeed, parseNotification, PluginClient } from "../support/plugin-client.ts";

let env: TestEnv;
afterEach(() => env?.close());

const get = (path: string, who?: Producer) => env.request(`/api/v1${path}`, { token: who?.token });
const send = (method: "POST" | "DELETE", path: string, who: Producer, body?: unknown) =>
  env.request(`/api/v1${path}`, { method, token: who.token, ...(body === undefined ? {} : { json: body }) });
const repostCount = async (id: string) => (await env.deps.database.db.select({ n: posts.repostCount }).from(posts).where(eq(posts.id, id)))[0]?.n;
const count = async (table: "reposts" | "notifications", where = "1") =>
  Number((await env.deps.database.db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)))[0]!.n);

type Entry = Record<string, unknown> & { id: string; is_a_repost: boolean; reposted_by?: { username: string } };
const timeline = async (who: Producer, query = "?limit=50") => {
  const body = await json(await get(`/feed/timeline${query}`, who));
  for (const p of body.posts) expect(postTypeProblems(p)).toEqual([]);
  return body as { posts: Entry[]; meta: { has_more: boolean; next_cursor: string } };
};
/** An entry as "id" or "id<-reposter". */
const label = (p: Entry) => (p.is_a_repost ? `${p.id}<-${p.reposted_by!.username}` : p.id);

for (const driver of DRIVERS) {
  describe(`reposts on ${driver}`, () => {
    test("the plugin's repost, quote and undo; exact counts; is_reposted everywhere; the producer's notification comes and goes", async () => {
      env = await createTestEnv(driver);
      const [maker, fan, other] = [await registerProducer(env), await registerProducer(env), await registerProducer(env)];
      const loop = await insertReadyPost(env, maker.id, "Night drive");
      const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => env.app.handle(req) });
      try {
        const plugin = new PluginClient(`http://127.0.0.1:${server.port}`);
        plugin.token = fan.token;
        // A bodiless repost (the plugin's repost arriving as GET) and its DELETE, also a GET: a toggle.
        expect(await plugin.get(`/api/v1/posts/${loop}/repost`)).toEqual({ is_reposted: true, repost_count: 1, quote: "" });
        expect(await plugin.del(`/api/v1/posts/${loop}/repost`)).toEqual({ is_reposted: false, repost_count: 0, quote: "" });
        expect(plugin.sent.map((s) => s.method)).toEqual(["GET", "GET"]);
        // With a quote: a POST with its JSON body; normalised (NFC, trimmed).
        expect(await plugin.post(`/api/v1/posts/${loop}/repost`, { quote: "  Cafe\u0301 vibes  " })).toEqual({
          is_reposted: true,
          repost_count: 1,
          quote: "Café vibes",
        });
        // A repeat keeps the first repost; another member's repost counts.
        expect(await plugin.post(`/api/v1/posts/${loop}/repost`, { quote: "again" })).toMatchObject({
          is_reposted: true,
          repost_count: 1,
          quote: "Café vibes",
        });
        expect(await json(await send("POST", `/posts/${loop}/repost`, other))).toEqual({ is_reposted: true, repost_count: 2, quote: "" });

        // The post shape, as the plugin parses it, on the global feed: counts for all, is_reposted for the viewer.
        const feed = parseFeed(await plugin.get("/api/v1/feed/global?limit=10&offset=0"));
        expect(feed.dropped).toEqual([]);
        const raw = (await json(await get("/feed/global?limit=10", fan))).posts as Entry[];
        expect(raw.find((p) => p.id === loop)).toMatchObject({ repost_count: 2, is_reposted: true, is_a_repost: false });
        expect("original_post_id" in raw[0]!).toBe(false);
        expect((await json(await get(`/posts/${loop}`, maker))).is_reposted).toBe(false);

        // The producer is told once per reposter, with the plugin's verb.
        const notes = await json(await get("/notifications?limit=20", maker));
        const group = notes.groups.find((g: { verb: string }) => g.verb === "repost");
        expect(parseNotification(group)).toMatchObject({ verb: "repost", targetId: loop, actorCount: 2 });
        expect(notes.notifications.filter((n: { kind: string }) => n.kind === "repost").map((n: { message: string }) => n.message)).toHaveLength(2);

        // Undo (DELETE for other clients, idempotent) deletes the reposter's notification.
        for (let i = 0; i < 2; i++)
          expect(await json(await send("DELETE", `/posts/${loop}/repost`, other))).toEqual({ is_reposted: false, repost_count: 1, quote: "" });
        expect(await count("notifications", "kind = 'repost'")).toBe(1);
        expect(await repostCount(loop)).toBe(1);

        // Who reposted it.
        const list = await json(await get(`/posts/${loop}/reposts`));
        expect(list.reposts.map((r: { user: { id: string }; quote: string }) => [r.user.id, r.quote])).toEqual([[fan.id, "Café vibes"]]);
      } finally {
        server.stop(true);
      }
    });

    test("the timeline: each loop once, the original when you follow its producer, else the latest repost; pages without repeats or gaps", async () => {
      env = await createTestEnv(driver);
      const [viewer, a, b, p, q] = [
        await registerProducer(env, { username: "viewer_v" }),
        await registerProducer(env, { username: "friend_a" }),
        await registerProducer(env, { username: "friend_b" }),
        await registerProducer(env, { username: "stranger_p" }),
        await registerProducer(env, { username: "followed_q" }),
      ];
      for (const f of [a, b, q]) await insertFollow(env, viewer.id, f.id);
      const step = () => env.clock.advance(1000);
      const p1 = await insertReadyPost(env, p.id, "P one");
      step();
      const p2 = await insertReadyPost(env, p.id, "P two");
      step();
      const q1 = await insertReadyPost(env, q.id, "Q one");
      step();
      const a1 = await insertReadyPost(env, a.id, "A one");
      const repost = async (who: Producer, id: string, quote?: string) => {
        step();
        expect((await send("POST", `/posts/${id}/repost`, who, quote === undefined ? undefined : { quote })).status).toBe(200);
      };
      await repost(a, p1);
      await repost(b, p1); // the later repost of p1 wins
      await repost(a, q1); // the viewer follows q: q1 stays where it was posted
      await repost(b, p2, "listen to this");
      step();
      const v1 = await insertReadyPost(env, viewer.id, "Mine");
      await repost(a, v1); // the viewer's own loop: the original

      const full = await timeline(viewer);
      expect(full.posts.map(label)).toEqual([v1, `${p2}<-friend_b`, `${p1}<-friend_b`, a1, q1]);
      const entry = full.posts[1]!;
      expect(entry).toMatchObject({
        is_a_repost: true,
        original_post_id: p2,
        original_user_id: p.id,
        original_username: "stranger_p",
        repost_quote: "listen to this",
        repost_count: 1,
        user_id: p.id,
        reposted_by: { id: b.id, username: "friend_b" },
      });
      expect(full.posts[2]).toMatchObject({ repost_count: 2, repost_quote: "" });
      expect(Date.parse(entry.reposted_at as string)).toBeGreaterThan(Date.parse(entry.created_at as string));
      const labels = full.posts.map(label);

      // Every page size, by cursor and by the plugin's offset, gives the same sequence: no repeat, no gap.
      for (const size of [1, 2, 3]) {
        const byCursor: string[] = [];
        let cursor = "";
        for (let i = 0; i < 10; i++) {
          const page = await timeline(viewer, `?limit=${size}${cursor ? `&cursor=${cursor}` : ""}`);
          byCursor.push(...page.posts.map(label));
          if (!page.meta.has_more) break;
          cursor = page.meta.next_cursor;
        }
        expect({ size, seq: byCursor }).toEqual({ size, seq: labels });
        const byOffset: string[] = [];
        for (let offset = 0; offset < labels.length + size; offset += size)
          byOffset.push(...(await timeline(viewer, `?limit=${size}&offset=${offset}`)).posts.map(label));
        expect({ size, seq: byOffset }).toEqual({ size, seq: labels });
      }

      // A repost published while paging lands above the cursor: the next page neither repeats nor loses anything.
      const first = await timeline(viewer, "?limit=2");
      await repost(a, p2); // p2 moves up to a's newer repost
      const rest = await timeline(viewer, `?limit=10&cursor=${first.meta.next_cursor}`);
      expect([...first.posts, ...rest.posts].map((e) => e.id)).toEqual([v1, p2, p1, a1, q1]);
      expect((await timeline(viewer)).posts.map(label)).toEqual([`${p2}<-friend_a`, v1, `${p1}<-friend_b`, a1, q1]);

      // The plugin parses every entry (is_a_repost and original_* as it expects them).
      const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => env.app.handle(req) });
      try {
        const plugin = new PluginClient(`http://127.0.0.1:${server.port}`);
        plugin.token = viewer.token;
        const parsed = parseFeed(await plugin.get("/api/v1/feed/unified?limit=20&offset=0"));
        expect(parsed.dropped).toEqual([]);
        expect(parsed.posts.map((x) => x.id)).toEqual([p2, v1, p1, a1, q1]);
      } finally {
        server.stop(true);
      }

      // Global and trending show originals only, once each.
      const global = (await json(await get("/feed/global?limit=50", viewer))).posts as Entry[];
      expect(global.filter((x) => x.is_a_repost)).toEqual([]);
      expect(new Set(global.map((x) => x.id)).size).toBe(global.length);

      // Muting a reposter hides their reposts (the other followee's repost of p1 takes over); muting or blocking the
      // producer hides the loop whoever reposted it.
      expect((await send("POST", "/social/mute", viewer, { target_user_id: a.id })).status).toBeLessThan(300);
      expect((await timeline(viewer)).posts.map(label)).toEqual([v1, `${p2}<-friend_b`, `${p1}<-friend_b`, q1]);
      expect((await send("POST", "/social/mute", viewer, { target_user_id: b.id })).status).toBeLessThan(300);
      expect((await timeline(viewer)).posts.map(label)).toEqual([v1, q1]);
      expect((await send("POST", "/social/unmute", viewer, { target_user_id: b.id })).status).toBeLessThan(300);
      expect((await send("POST", "/social/mute", viewer, { target_user_id: p.id })).status).toBeLessThan(300);
      expect((await timeline(viewer)).posts.map(label)).toEqual([v1, q1]);
      expect((await send("POST", "/social/unmute", viewer, { target_user_id: p.id })).status).toBeLessThan(300);
      expect((await timeline(viewer)).posts.map(label)).toEqual([v1, `${p2}<-friend_b`, `${p1}<-friend_b`, q1]);
      expect((await send("POST", "/social/block", viewer, { target_user_id: p.id })).status).toBeLessThan(300);
      expect((await timeline(viewer)).posts.map(label)).toEqual([v1, q1]);
    });
  });
}

describe("reposts: what may be reposted, and what goes with a loop or an account", () => {
  test("unknown, unpublished, own and hidden loops and bad quotes are refused and write nothing; no token is 401", async () => {
    env = await createTestEnv("sqlite");
    const [maker, fan] = [await registerProducer(env), await registerProducer(env)];
    const draft = await insertPost(env, maker.id, "Draft");
    const loop = await insertReadyPost(env, maker.id, "Ready");
    await expectError(await get("/posts/no-such-loop/repost", fan), 404, "post_not_found");
    await expectError(await send("POST", "/posts/no-such-loop/repost", fan), 404, "post_not_found");
    await expectError(await send("DELETE", "/posts/no-such-loop/repost", fan), 404, "post_not_found");
    await expectError(await get(`/posts/${draft}/repost`, fan), 404, "post_not_found");
    await expectError(await get(`/posts/${loop}/repost`, maker), 409, "own_post");
    await expectError(await send("POST", `/posts/${loop}/repost`, fan, { quote: "x".repeat(281) }), 400, "validation_error");
    await expectError(await send("POST", `/posts/${loop}/repost`, fan, { quote: "bad\u0000byte" }), 400, "validation_error");
    await expectError(await send("POST", `/posts/${loop}/repost`, fan, { quote: 42 }), 400, "validation_error");
    await expectError(await get(`/posts/${loop}/repost`), 401, "unauthorized");
    await expectError(await get("/posts/no-such-loop/reposts"), 404, "post_not_found");
    await expectError(await get(`/posts/${loop}/reposts?limit=0`), 400, "validation_error");
    expect(await count("reposts")).toBe(0);
    expect(await count("notifications", "kind = 'repost'")).toBe(0);
    expect(await repostCount(loop)).toBe(0);
    // A quote of exactly the limit is fine (characters, not bytes).
    expect(await json(await send("POST", `/posts/${loop}/repost`, fan, { quote: "🔥".repeat(280) }))).toMatchObject({ is_reposted: true, repost_count: 1 });
  });

  test("a block refuses the repost and hides the reposter from the list; undoing still works", async () => {
    env = await createTestEnv("sqlite");
    const [maker, fan, watcher] = [await registerProducer(env), await registerProducer(env), await registerProducer(env)];
    const loop = await insertReadyPost(env, maker.id, "Kept");
    expect((await get(`/posts/${loop}/repost`, fan)).status).toBe(200);
    expect((await send("POST", "/social/block", watcher, { target_user_id: fan.id })).status).toBe(201);
    expect((await json(await get(`/posts/${loop}/reposts`, watcher))).reposts).toEqual([]);
    expect((await json(await get(`/posts/${loop}/reposts`))).reposts).toHaveLength(1);
    expect((await send("POST", "/social/block", maker, { target_user_id: fan.id })).status).toBe(201);
    await expectError(await send("POST", `/posts/${loop}/repost`, fan), 404, "post_not_found");
    expect(await json(await send("DELETE", `/posts/${loop}/repost`, fan))).toEqual({ is_reposted: false, repost_count: 0, quote: "" });
  });

  test("deleting the loop deletes its reposts and their notifications; deleting a reposter recounts", async () => {
    env = await createTestEnv("sqlite");
    const [maker, fan, leaver] = [await registerProducer(env), await registerProducer(env), await registerProducer(env)];
    const [kept, doomed] = [await insertReadyPost(env, maker.id, "Kept"), await insertReadyPost(env, maker.id, "Doomed")];
    await insertFollow(env, fan.id, leaver.id);
    for (const who of [fan, leaver]) for (const id of [kept, doomed]) expect((await send("POST", `/posts/${id}/repost`, who)).status).toBe(200);
    expect((await timeline(fan)).posts.map((p) => p.id).sort()).toEqual([kept, doomed].sort());
    expect(await count("notifications", "kind = 'repost'")).toBe(4);
    expect((await send("DELETE", `/posts/${doomed}`, maker)).status).toBe(200);
    expect(await count("reposts", `post_id = '${doomed}'`)).toBe(0);
    expect(await count("notifications", "kind = 'repost'")).toBe(2);
    expect((await timeline(fan)).posts.map((p) => p.id)).toEqual([kept]);
    const gone = await env.request("/api/v1/users/me/delete", { method: "POST", token: leaver.token, json: { password: "correct horse battery staple" } });
    expect(gone.status).toBe(200);
    expect(await repostCount(kept)).toBe(1);
    expect((await timeline(fan)).posts).toEqual([]);
  });
});

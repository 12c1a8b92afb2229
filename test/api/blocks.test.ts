// Blocking and muting through HTTP as the plugin and REST clients use them, on bun:sqlite and on a real sqld: a block
// removes the follows both ways with exact counters (and tells the Stream.io mirror), refuses new follows, hides each
// from the other in every feed, profile, loop, list and notification, and refuses reactions and plays; a mute hides
// the muted user's loops from the muter's feeds only. Both are idempotent; self, unknown users and bad bodies change
// nothing. Feed pages filtered for a viewer page on without gaps or repeats (cursor and the plugin's offset).
import { afterEach, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { STREAM_MIRROR } from "../../src/integrations/stream.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, json, registerProducer, type Producer } from "../support/auth.ts";
import { insertReadyPost } from "../support/ready-posts.ts";
import { expectPublicUser } from "../support/user-shape.ts";

let env: TestEnv;
afterEach(() => env?.close());

const producer = () => registerProducer(env);
const post = (path: string, who: Producer | undefined, body?: unknown) =>
  env.request(`/api/v1${path}`, { method: "POST", token: who?.token, ...(body === undefined ? {} : { json: body }) });
// The plugin sends Content-Type: application/json on GETs too.
const get = (path: string, who?: Producer) => env.request(`/api/v1${path}`, { token: who?.token, headers: { "content-type": "application/json" } });
const act = (what: "block" | "unblock" | "mute" | "unmute" | "follow", who: Producer, target: string) =>
  post(`/social/${what}`, who, { target_user_id: target });

async function count(table: string): Promise<number> {
  const [r] = await env.deps.database.db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table}`));
  return Number(r!.n);
}

async function counters(p: Producer) {
  const u = await json(await get(`/users/${p.id}/profile`));
  return { followers: u.follower_count, following: u.following_count };
}

/** The post ids of a feed as `who` reads it (all pages of `limit`), with every page's meta. */
async function feedIds(path: string, who?: Producer): Promise<string[]> {
  const res = await get(path, who);
  expect(res.status).toBe(200);
  const body = await json(res);
  expect(body.meta.count).toBe(body.posts.length);
  return body.posts.map((p: { id: string }) => p.id);
}

for (const driver of DRIVERS) {
  describe(`blocking on ${driver}`, () => {
    test("a block removes both follows with exact counters, tells the mirror, and refuses following either way", async () => {
      env = await createTestEnv(driver, { STREAM_API_KEY: "key", STREAM_API_SECRET: "secret" });
      const [a, b, c] = [await producer(), await producer(), await producer()];
      for (const [x, y] of [
        [a, b],
        [b, a],
        [c, b],
        [a, c],
      ] as const)
        expect((await act("follow", x, y.id)).status).toBe(201);
      const bPost = await insertReadyPost(env, b.id, "B's loop");
      // A hears of B's follow, new loop and reaction; B of A's follow and new loop, and of C's follow.
      const aPost = await insertReadyPost(env, a.id, "A's loop");
      expect((await env.request(`/api/v1/posts/${aPost}/reaction`, { method: "POST", token: b.token, json: { emoji: "🔥" } })).status).toBe(200);
      expect((await json(await get("/notifications/counts", a))).unseen).toBe(3);
      expect((await json(await get("/notifications/counts", b))).unseen).toBe(3);
      const mirrorBefore = await count(`jobs WHERE type = '${STREAM_MIRROR}'`);

      // The plugin retries: the first call creates (201), the repeats change nothing (200), same shape.
      for (let attempt = 0; attempt < 3; attempt++) {
        const res = await act("block", a, b.id);
        expect(res.status).toBe(attempt === 0 ? 201 : 200);
        expect(await json(res)).toEqual({ is_blocking: true });
      }
      expect(await counters(a)).toEqual({ followers: 0, following: 1 }); // A still follows C
      expect(await counters(b)).toEqual({ followers: 1, following: 0 }); // C still follows B
      expect(await counters(c)).toEqual({ followers: 1, following: 1 });
      expect(await count("follows")).toBe(2);
      // The mirror is told of both follows that went, once.
      expect(await count(`jobs WHERE type = '${STREAM_MIRROR}'`)).toBe(mirrorBefore + 2);
      // The notifications between them are gone, both ways; C's follow notification stays B's.
      expect(await json(await get("/notifications/counts", a))).toMatchObject({ unseen: 0, unread: 0 });
      expect(await json(await get("/notifications/counts", b))).toMatchObject({ unseen: 1, unread: 1 });
      expect((await json(await get("/notifications", a))).notifications).toEqual([]);
      expect((await json(await get("/notifications", b))).notifications.map((n: { actor_id: string }) => n.actor_id)).toEqual([c.id]);

      // Following while the block stands: the blocker is told why, the blocked user gets the unknown user's 404.
      await expectError(await act("follow", a, b.id), 403, "blocked");
      await expectError(await act("follow", b, a.id), 404, "user_not_found");
      await expectError(await env.request(`/api/v1/users/${a.id}/follow`, { method: "PUT", token: b.token }), 404, "user_not_found");
      expect(await count("follows")).toBe(2);
      expect(await counters(a)).toEqual({ followers: 0, following: 1 });

      // Neither sees the other: profile, loop list, follow lists, loop, download; others and anonymous still do.
      for (const [viewer, other] of [
        [a, b],
        [b, a],
      ] as const) {
        await expectError(await get(`/users/${other.id}/profile`, viewer), 404, "user_not_found");
        await expectError(await get(`/users/${other.username}/profile`, viewer), 404, "user_not_found");
        await expectError(await get(`/users/${other.id}`, viewer), 404, "user_not_found");
        await expectError(await get(`/users/${other.id}/followers`, viewer), 404, "user_not_found");
        await expectError(await get(`/users/${other.id}/following`, viewer), 404, "user_not_found");
        expect(await json(await get(`/users/${other.id}/posts`, viewer))).toEqual({
          posts: [],
          meta: { count: 0, has_more: false, next_cursor: "" },
          total: 0,
          has_more: false,
        });
        const theirs = other === b ? bPost : aPost;
        await expectError(await get(`/posts/${theirs}`, viewer), 404, "post_not_found");
        await expectError(await get(`/posts/${theirs}/download`, viewer), 404, "post_not_found");
        await expectError(await post("/feed/like", viewer, { activity_id: `loop:${theirs}` }), 404, "post_not_found");
        await expectError(
          await env.request(`/api/v1/posts/${theirs}/reaction`, { method: "PUT", token: viewer.token, json: { emoji: "🔥" } }),
          404,
          "post_not_found",
        );
        await expectError(await post("/social/play", viewer, { activity_id: theirs }), 404, "post_not_found");
        await expectError(await post(`/posts/${theirs}/play`, viewer), 404, "post_not_found");
      }
      // Nor in anyone else's lists: C follows B, and A reading whom C follows does not find B there; C and others do.
      const following = async (viewer?: Producer) => (await json(await get(`/users/${c.id}/following`, viewer))).users.map((u: { id: string }) => u.id);
      expect(await following(a)).toEqual([]);
      expect(await following(c)).toEqual([b.id]);
      expect(await following()).toEqual([b.id]);
      expect((await json(await get(`/users/${c.id}/following`, a))).meta).toMatchObject({ count: 0, has_more: false });
      expectPublicUser(await json(await get(`/users/${b.id}/profile`, c)));
      expect((await get(`/users/${b.id}/profile`)).status).toBe(200);
      expect((await get(`/posts/${bPost}`, c)).status).toBe(200);
      // Nothing was counted or notified by the refused calls.
      expect(await json(await get("/notifications/counts", a))).toMatchObject({ unseen: 0 });
      expect((await json(await get(`/posts/${bPost}`, c))).play_count).toBe(0);

      // Unblocking: idempotent; the profiles come back, the follows and notifications do not; following works again.
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await act("unblock", a, b.id);
        expect(res.status).toBe(200);
        expect(await json(res)).toEqual({ is_blocking: false });
      }
      expect((await get(`/users/${b.id}/profile`, a)).status).toBe(200);
      expect((await get(`/posts/${aPost}`, b)).status).toBe(200);
      expect(await count("follows")).toBe(2);
      expect((await act("follow", b, a.id)).status).toBe(201);
      expect(await counters(a)).toEqual({ followers: 1, following: 1 });
    });

    test("feeds hide each from the other (global, timeline, trending, discovery); a filtered page pages on without gaps", async () => {
      env = await createTestEnv(driver);
      const [a, b, c] = [await producer(), await producer(), await producer()];
      // Interleaved: c b c b c b c (oldest first), so every page of 2 has one of B's.
      const ids: Record<string, string[]> = { a: [], b: [], c: [] };
      for (let i = 0; i < 7; i++) {
        const who = i % 2 ? b : c;
        ids[who === b ? "b" : "c"]!.push(await insertReadyPost(env, who.id, `loop ${i}`));
      }
      ids.a!.push(await insertReadyPost(env, a.id, "A's loop"));
      expect((await act("follow", a, b.id)).status).toBe(201);
      expect((await act("follow", a, c.id)).status).toBe(201);
      const all = await feedIds("/feed/global?limit=50", a);
      expect(all).toHaveLength(8);
      const before = await feedIds("/feed/timeline?limit=50", a);
      expect(before).toHaveLength(8);

      expect((await act("block", b, a.id)).status).toBe(201); // B blocks A: hidden for both
      const notB = all.filter((id) => !ids.b!.includes(id));
      const notA = all.filter((id) => !ids.a!.includes(id));
      expect(await feedIds("/feed/global?limit=50", a)).toEqual(notB);
      expect(await feedIds("/feed/global/enriched?limit=50", a)).toEqual(notB);
      expect(await feedIds("/feed/timeline?limit=50", a)).toEqual(notB);
      expect(await feedIds("/feed/unified?limit=50", a)).toEqual(notB);
      expect(await feedIds("/feed/global?limit=50", b)).toEqual(notA);
      expect(new Set(await feedIds("/feed/trending?limit=50", a))).toEqual(new Set(notB));
      expect(new Set(await feedIds("/feed/trending?limit=50", b))).toEqual(new Set(notA));
      expect((await feedIds("/feed/discovery?limit=50", b)).filter((id) => ids.a!.includes(id))).toEqual([]);
      // Everyone else, and nobody signed in, still see everything.
      expect(await feedIds("/feed/global?limit=50", c)).toEqual(all);
      expect(await feedIds("/feed/global?limit=50")).toEqual(all);

      // Paging A's global feed by 2: by cursor and by the plugin's offset (+ limit each time), the same loops in the
      // same order, each once, and has_more tells the truth although some pages are short.
      const byCursor: string[] = [];
      let cursor = "";
      for (let page = 0; page < 10; page++) {
        const body = await json(await get(`/feed/global?limit=2${cursor ? `&cursor=${cursor}` : ""}`, a));
        expect(body.posts.length).toBeLessThanOrEqual(2);
        expect(body.meta.count).toBe(body.posts.length);
        byCursor.push(...body.posts.map((p: { id: string }) => p.id));
        if (!body.meta.has_more) break;
        cursor = body.meta.next_cursor;
      }
      expect(byCursor).toEqual(notB);
      const byOffset: string[] = [];
      for (let offset = 0; offset < 10; offset += 2) byOffset.push(...(await feedIds(`/feed/global?limit=2&offset=${offset}`, a)));
      expect(byOffset).toEqual(notB);
    });
  });
}

describe("muting", () => {
  test("hides the muted user's loops from the muter's feeds only; the follow, profile and loops stay; unmuting restores", async () => {
    env = await createTestEnv("sqlite");
    const [a, b] = [await producer(), await producer()];
    const bLoops = [await insertReadyPost(env, b.id, "B one"), await insertReadyPost(env, b.id, "B two")];
    const aLoop = await insertReadyPost(env, a.id, "A one");
    expect((await act("follow", a, b.id)).status).toBe(201);
    expect((await act("follow", b, a.id)).status).toBe(201);
    const notificationsOfB = (await json(await get("/notifications/counts", b))).unseen;

    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await act("mute", a, b.id);
      expect(res.status).toBe(attempt === 0 ? 201 : 200);
      expect(await json(res)).toEqual({ is_muting: true });
    }
    for (const feed of ["/feed/global", "/feed/timeline", "/feed/unified", "/feed/trending", "/feed/latest"])
      expect(await feedIds(`${feed}?limit=50`, a)).toEqual([aLoop]);
    // The follow stays, the profile, loop list and loops stay visible, and reacting works.
    expect(await json(await get(`/users/${b.id}/profile`, a))).toMatchObject({ is_following: true, follows_you: true });
    expect((await json(await get(`/users/${b.id}/posts`, a))).posts.map((p: { id: string }) => p.id).sort()).toEqual([...bLoops].sort());
    expect((await get(`/posts/${bLoops[0]}`, a)).status).toBe(200);
    expect((await post("/feed/like", a, { activity_id: bLoops[0] })).status).toBe(200);
    // One way only: B still sees A's loops, and B was told nothing of the mute (only of the reaction).
    expect(await feedIds("/feed/timeline?limit=50", b)).toContain(aLoop);
    expect((await json(await get("/notifications/counts", b))).unseen).toBe(notificationsOfB + 1);
    expect(await counters(b)).toEqual({ followers: 1, following: 1 });

    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await act("unmute", a, b.id);
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({ is_muting: false });
    }
    expect((await feedIds("/feed/timeline?limit=50", a)).sort()).toEqual([aLoop, ...bLoops].sort());
  });

  test("the plugin's mute routes (plugin/src/network/api/SocialClient.cpp): mute and unmute both arrive as GET and toggle", async () => {
    env = await createTestEnv("sqlite");
    const [a, b, c] = [await producer(), await producer(), await producer()];
    const bLoop = await insertReadyPost(env, b.id, "B one");
    expect(await json(await get(`/users/${b.id}/muted`, a))).toEqual({ is_muted: false });
    // muteUser: POST without a body, which the plugin sends as GET.
    expect(await json(await get(`/users/${b.id}/mute`, a))).toEqual({ is_muting: true });
    expect(await json(await get(`/users/${b.id}/muted`, a))).toEqual({ is_muted: true });
    expect(await feedIds("/feed/global?limit=50", a)).not.toContain(bLoop);
    expect((await json(await get("/users/me/muted?limit=10&offset=0", a))).users.map((u: { id: string }) => u.id)).toEqual([b.id]);
    // unmuteUser: DELETE, also sent as GET: the same route takes the mute back.
    expect(await json(await get(`/users/${b.id}/mute`, a))).toEqual({ is_muting: false });
    expect(await feedIds("/feed/global?limit=50", a)).toContain(bLoop);
    // Other clients' explicit verbs are idempotent.
    for (let i = 0; i < 2; i++) expect(await json(await post(`/users/${c.id}/mute`, a))).toEqual({ is_muting: true });
    for (let i = 0; i < 2; i++)
      expect(await json(await env.request(`/api/v1/users/${c.id}/mute`, { method: "DELETE", token: a.token }))).toEqual({ is_muting: false });
    await expectError(await get(`/users/${a.id}/mute`, a), 400, "cannot_mute_self");
    await expectError(await get("/users/nobody-here/mute", a), 404, "user_not_found");
    await expectError(await get(`/users/${b.id}/mute`), 401, "unauthorized");
    expect(await count("mutes")).toBe(0);
  });

  test("the lists of your blocks and mutes: newest first, paginated, public users, yours only", async () => {
    env = await createTestEnv("sqlite");
    const [me, x, y, z, other] = [await producer(), await producer(), await producer(), await producer(), await producer()];
    for (const t of [x, y, z]) {
      expect((await act("block", me, t.id)).status).toBe(201);
      env.clock.advance?.(1000);
    }
    expect((await act("mute", me, y.id)).status).toBe(201);
    expect((await act("block", other, me.id)).status).toBe(201); // who blocks me is not in my list

    const first = await json(await get("/social/blocks?limit=2", me));
    expect(first.users.map((u: { id: string }) => u.id)).toEqual([z.id, y.id]);
    for (const u of first.users) expectPublicUser(u);
    expect(first.meta).toMatchObject({ count: 2, has_more: true });
    const second = await json(await get(`/social/blocks?limit=2&cursor=${first.meta.next_cursor}`, me));
    expect(second.users.map((u: { id: string }) => u.id)).toEqual([x.id]);
    expect(second.meta).toEqual({ count: 1, has_more: false, next_cursor: "" });
    expect((await json(await get("/social/blocks?limit=2&offset=2", me))).users.map((u: { id: string }) => u.id)).toEqual([x.id]);
    expect((await json(await get("/social/mutes", me))).users.map((u: { id: string }) => u.id)).toEqual([y.id]);
    expect((await json(await get("/social/blocks", other))).users.map((u: { id: string }) => u.id)).toEqual([me.id]);
    expect((await json(await get("/social/mutes", other))).users).toEqual([]);
    await expectError(await get("/social/blocks"), 401, "unauthorized");
    await expectError(await get("/social/mutes?limit=0", me), 400, "validation_error");
  });

  test("bad input changes nothing: yourself, unknown users, missing or wrong bodies, no token", async () => {
    env = await createTestEnv("sqlite");
    const [a, b] = [await producer(), await producer()];
    await expectError(await act("block", a, a.id), 400, "cannot_block_self");
    await expectError(await act("unblock", a, a.id), 400, "cannot_block_self");
    await expectError(await act("mute", a, a.id), 400, "cannot_mute_self");
    await expectError(await act("unmute", a, a.id), 400, "cannot_mute_self");
    for (const what of ["block", "unblock", "mute", "unmute"] as const) {
      await expectError(await act(what, a, "01934f7e-8a1b-7cc0-9d5e-2f1a3b4c5d6e"), 404, "user_not_found");
      await expectError(await post(`/social/${what}`, a, {}), 400, "validation_error");
      await expectError(await post(`/social/${what}`, a, { target_user_id: "" }), 400, "validation_error");
      await expectError(await post(`/social/${what}`, a, { target_user_id: 42 }), 400, "validation_error");
      await expectError(await post(`/social/${what}`, a, { target_user_id: "x".repeat(65) }), 400, "validation_error");
      await expectError(await post(`/social/${what}`, undefined, { target_user_id: b.id }), 401, "unauthorized");
    }
    expect(await count("blocks")).toBe(0);
    expect(await count("mutes")).toBe(0);
  });

  test("blocks, unblocks, mutes and unmutes share one rate limit per user", async () => {
    env = await createTestEnv("sqlite");
    const [a, b] = [await producer(), await producer()];
    for (let i = 0; i < 120; i++) expect((await act(i % 2 ? "unmute" : "mute", a, b.id)).status).toBeLessThan(300);
    await expectError(await act("block", a, b.id), 429, "rate_limited");
    expect(await count("blocks")).toBe(0);
    // Another user's budget is their own.
    expect((await act("block", b, a.id)).status).toBe(201);
  });

  test("deleting an account removes its blocks and mutes both ways", async () => {
    env = await createTestEnv("sqlite");
    await producer(); // the owner (the first account), who cannot delete themself here
    const [a, b, c] = [await producer(), await producer(), await producer()];
    expect((await act("block", a, b.id)).status).toBe(201);
    expect((await act("block", c, a.id)).status).toBe(201);
    expect((await act("mute", a, c.id)).status).toBe(201);
    expect((await act("mute", b, a.id)).status).toBe(201);
    expect((await act("block", b, c.id)).status).toBe(201);
    const res = await post("/users/me/delete", a, { password: "correct horse battery staple" });
    expect(res.status).toBe(200);
    expect(await count("blocks")).toBe(1); // B blocks C stays
    expect(await count("mutes")).toBe(0);
  });
});

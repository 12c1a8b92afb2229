// Follows through HTTP as the plugin and REST clients use them, on bun:sqlite and on a real sqld: idempotent under
// the plugin's retries with exact counters, self-follow and unknown users refused with nothing changed, one follow
// notification per pair, and the followers/following lists (pagination, viewer fields, exact types).
import { afterEach, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { follows, notifications } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { json, registerProducer, type Producer } from "../support/auth.ts";
import { expectPublicUser } from "../support/user-shape.ts";

let env: TestEnv;
afterEach(() => env?.close());

const producer = () => registerProducer(env);

const pluginFollow = (who: Producer, target: string) =>
  env.request("/api/v1/social/follow", { method: "POST", json: { target_user_id: target }, token: who.token });
const pluginUnfollow = (who: Producer, target: string) =>
  env.request("/api/v1/social/unfollow", { method: "POST", json: { target_user_id: target }, token: who.token });
const restFollow = (who: Producer, target: string) => env.request(`/api/v1/users/${target}/follow`, { method: "PUT", token: who.token });
const restUnfollow = (who: Producer, target: string) => env.request(`/api/v1/users/${target}/follow`, { method: "DELETE", token: who.token });
// The plugin sends Content-Type: application/json on GETs too.
const get = (path: string, token?: string) => env.request(path, { token, headers: { "content-type": "application/json" } });

async function profile(id: string, viewer?: Producer) {
  const res = await get(`/api/v1/users/${id}/profile`, viewer?.token);
  expect(res.status).toBe(200);
  const body = await json(res);
  expectPublicUser(body);
  return body;
}

async function counters(p: Producer) {
  const u = await profile(p.id);
  return { followers: u.follower_count, following: u.following_count };
}

async function dbCounts() {
  const [f] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM follows`);
  const [n] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM notifications`);
  return { follows: Number(f!.n), notifications: Number(n!.n) };
}

for (const driver of DRIVERS) {
  describe(`follows on ${driver}`, () => {
    test("the plugin follows and unfollows, retrying each call: answers keep their shape and the counters stay exact", async () => {
      env = await createTestEnv(driver);
      const [a, b] = [await producer(), await producer()];

      for (let attempt = 0; attempt < 4; attempt++) {
        const res = await pluginFollow(a, b.id);
        expect(res.status).toBe(attempt === 0 ? 201 : 200);
        // exactly the plugin's fields, with their types; never an error key
        expect(await json(res)).toEqual({ is_following: true, follower_count: 1 });
      }
      expect(await counters(b)).toEqual({ followers: 1, following: 0 });
      expect(await counters(a)).toEqual({ followers: 0, following: 1 });
      // the viewer fields, from both sides
      expect(await profile(b.id, a)).toMatchObject({ is_following: true, follows_you: false });
      expect(await profile(a.id, b)).toMatchObject({ is_following: false, follows_you: true });
      expect(await profile(b.id)).toMatchObject({ is_following: false, follows_you: false });

      for (let attempt = 0; attempt < 4; attempt++) {
        const res = await pluginUnfollow(a, b.id);
        expect(res.status).toBe(200);
        expect(await json(res)).toEqual({ is_following: false, follower_count: 0 });
      }
      expect(await counters(b)).toEqual({ followers: 0, following: 0 });
      expect(await counters(a)).toEqual({ followers: 0, following: 0 });
      expect((await dbCounts()).follows).toBe(0);
    });

    test("REST PUT/DELETE /users/{id}/follow: 201 then 200, and the same counters as the plugin routes", async () => {
      env = await createTestEnv(driver);
      const [a, b, c] = [await producer(), await producer(), await producer()];
      const first = await restFollow(a, b.id);
      expect(first.status).toBe(201);
      expect(await json(first)).toEqual({ is_following: true, follower_count: 1 });
      expect(await json(await restFollow(a, b.id))).toEqual({ is_following: true, follower_count: 1 });
      expect(await json(await pluginFollow(c, b.id))).toEqual({ is_following: true, follower_count: 2 });
      // the plugin route and the REST route are one follow: following by one and unfollowing by the other works
      expect(await json(await restUnfollow(c, b.id))).toEqual({ is_following: false, follower_count: 1 });
      expect(await json(await pluginUnfollow(a, b.id))).toEqual({ is_following: false, follower_count: 0 });
      const again = await restUnfollow(a, b.id);
      expect(again.status).toBe(200);
      expect(await json(again)).toEqual({ is_following: false, follower_count: 0 });
      expect(await counters(b)).toEqual({ followers: 0, following: 0 });
    });

    test("retries racing each other (the plugin's parallel retries) still insert one follow and count it once", async () => {
      env = await createTestEnv(driver);
      const [a, b] = [await producer(), await producer()];
      const answers = await Promise.all([...Array(6)].map((_, i) => (i % 2 ? pluginFollow(a, b.id) : restFollow(a, b.id))));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
      for (const r of answers) expect(await json(r)).toEqual({ is_following: true, follower_count: 1 });
      expect(await counters(b)).toEqual({ followers: 1, following: 0 });
      expect(await counters(a)).toEqual({ followers: 0, following: 1 });
      const unfollows = await Promise.all([...Array(6)].map(() => pluginUnfollow(a, b.id)));
      for (const r of unfollows) expect(await json(r)).toEqual({ is_following: false, follower_count: 0 });
      expect(await counters(a)).toEqual({ followers: 0, following: 0 });
    });

    test("following yourself is 400, an unknown user 404, a missing target 400: nothing changes", async () => {
      env = await createTestEnv(driver);
      const [a, b] = [await producer(), await producer()];
      await pluginFollow(b, a.id);
      const before = await dbCounts();

      for (const res of [await pluginFollow(a, a.id), await pluginUnfollow(a, a.id), await restFollow(a, a.id), await restUnfollow(a, a.id)]) {
        expect(res.status).toBe(400);
        expect((await json(res)).error).toBe("cannot_follow_self");
      }
      const unknown = "01900000-0000-7000-8000-000000000000";
      for (const res of [await pluginFollow(a, unknown), await pluginUnfollow(a, unknown), await restFollow(a, unknown), await restUnfollow(a, unknown)]) {
        expect(res.status).toBe(404);
        expect(await json(res)).toMatchObject({ error: "user_not_found", message: expect.any(String) });
      }
      for (const body of [{}, { target_user_id: "" }, { target_user_id: 42 }]) {
        const res = await env.request("/api/v1/social/follow", { method: "POST", json: body, token: a.token });
        expect(res.status).toBe(400);
        expect((await json(res)).error).toBe("validation_error");
      }
      // without a token
      const anon = await env.request("/api/v1/social/follow", { method: "POST", json: { target_user_id: b.id } });
      expect(anon.status).toBe(401);

      expect(await dbCounts()).toEqual(before);
      expect(await counters(a)).toEqual({ followers: 1, following: 0 });
      expect(await counters(b)).toEqual({ followers: 0, following: 1 });
    });

    test("a follow notifies the followee once: follow, unfollow, follow again leaves one unread notification", async () => {
      env = await createTestEnv(driver);
      const [a, b] = [await producer(), await producer()];
      await pluginFollow(a, b.id);
      const [first] = await env.deps.database.db.select().from(notifications).where(eq(notifications.userId, b.id));
      expect(first).toMatchObject({ kind: "follow", actorId: a.id, dedupeKey: `follow:${a.id}:${b.id}`, readAt: null, seenAt: null });

      env.clock.advance(60_000);
      await pluginUnfollow(a, b.id);
      await pluginFollow(a, b.id);
      await restUnfollow(a, b.id);
      await restFollow(a, b.id);
      const rows = await env.deps.database.db.select().from(notifications).where(eq(notifications.userId, b.id));
      expect(rows).toEqual([first!]);
      // the follower is never notified of their own action
      expect(await env.deps.database.db.select().from(notifications).where(eq(notifications.userId, a.id))).toEqual([]);
    });

    test("followers and following: users under `users`, meta with total and has_more, viewer fields per item, cursor and offset", async () => {
      env = await createTestEnv(driver);
      const star = await producer();
      const fans: Producer[] = [];
      for (let i = 0; i < 5; i++) {
        fans.push(await producer());
        env.clock.advance(1000); // distinct follow times: newest first is well defined
        await pluginFollow(fans[i]!, star.id);
      }
      const viewer = fans[0]!;
      // The viewer follows fans 1 and 2; fan 3 follows the viewer.
      await pluginFollow(viewer, fans[1]!.id);
      await pluginFollow(viewer, fans[2]!.id);
      await pluginFollow(fans[3]!, viewer.id);
      await pluginFollow(star, fans[4]!.id);

      const all = await json(await get(`/api/v1/users/${star.id}/followers?limit=100`, viewer.token));
      expect(Object.keys(all).sort()).toEqual(["has_more", "meta", "total", "users"]);
      expect(all).toMatchObject({ total: 5, has_more: false, meta: { count: 5, has_more: false, next_cursor: "" } });
      for (const u of all.users) expectPublicUser(u);
      expect(all.users.map((u: { id: string }) => u.id)).toEqual(fans.map((f) => f.id).reverse());
      const byId = Object.fromEntries(
        all.users.map((u: { id: string; is_following: boolean; follows_you: boolean }) => [u.id, [u.is_following, u.follows_you]]),
      );
      expect(byId).toEqual({
        [fans[0]!.id]: [false, false], // the viewer themself
        [fans[1]!.id]: [true, false],
        [fans[2]!.id]: [true, false],
        [fans[3]!.id]: [false, true],
        [fans[4]!.id]: [false, false],
      });
      // counts in the list items are the same exact counters as everywhere
      expect(all.users.find((u: { id: string }) => u.id === viewer.id)).toMatchObject({ following_count: 3, follower_count: 1 });

      // without a viewer the same list, every viewer field false
      const anon = await json(await get(`/api/v1/users/${star.id}/followers`));
      expect(anon.users.every((u: { is_following: boolean; follows_you: boolean }) => !u.is_following && !u.follows_you)).toBe(true);

      // cursor pages of 2: every follower once, in order, has_more true until the last page
      const seen: string[] = [];
      let cursor = "";
      for (let pageNo = 0; ; pageNo++) {
        const page = await json(await get(`/api/v1/users/${star.id}/followers?limit=2${cursor ? `&cursor=${cursor}` : ""}`, viewer.token));
        seen.push(...page.users.map((u: { id: string }) => u.id));
        expect(page.total).toBe(5);
        expect(page.has_more).toBe(page.meta.has_more);
        if (!page.has_more) {
          expect(page.meta.next_cursor).toBe("");
          break;
        }
        cursor = page.meta.next_cursor;
        expect(pageNo).toBeLessThan(3);
      }
      expect(seen).toEqual(all.users.map((u: { id: string }) => u.id));
      // a follow arriving between pages does not shift a cursor walk (keyset, not offset)
      const first = await json(await get(`/api/v1/users/${star.id}/followers?limit=2`));
      env.clock.advance(1000);
      await pluginFollow(await producer(), star.id);
      const second = await json(await get(`/api/v1/users/${star.id}/followers?limit=2&cursor=${first.meta.next_cursor}`));
      expect(second.users.map((u: { id: string }) => u.id)).toEqual([fans[2]!.id, fans[1]!.id]);

      // offset (plugin): the page after the first two, and past the end an empty list with has_more false
      const offset = await json(await get(`/api/v1/users/${star.id}/followers?limit=2&offset=2`));
      expect(offset.users.map((u: { id: string }) => u.id)).toEqual([fans[3]!.id, fans[2]!.id]);
      expect(offset.has_more).toBe(true);
      const past = await json(await get(`/api/v1/users/${star.id}/followers?offset=50`));
      expect(past).toEqual({ users: [], meta: { count: 0, has_more: false, next_cursor: "" }, total: 6, has_more: false });

      // following: whom the viewer follows, newest first
      const following = await json(await get(`/api/v1/users/${viewer.id}/following`, fans[3]!.token));
      expect(following.users.map((u: { id: string }) => u.id)).toEqual([fans[2]!.id, fans[1]!.id, star.id]);
      expect(following).toMatchObject({ total: 3, has_more: false });
      for (const u of following.users) expectPublicUser(u);
      // seen by fan 3, who follows the star (and the viewer) but not fans 1 and 2, and whom none of them follows
      expect(following.users.map((u: { is_following: boolean; follows_you: boolean }) => [u.is_following, u.follows_you])).toEqual([
        [false, false],
        [false, false],
        [true, false],
      ]);
      const starFollowing = await json(await get(`/api/v1/users/${star.id}/following`, fans[4]!.token));
      expect(starFollowing.users).toHaveLength(1);
      expect(starFollowing.users[0]).toMatchObject({ id: fans[4]!.id, is_following: false, follows_you: false });
      const fan4Followers = await json(await get(`/api/v1/users/${fans[4]!.id}/followers`, star.token));
      expect(fan4Followers.users.map((u: { id: string }) => u.id)).toEqual([star.id]);
    });

    test("list bad input: non-numeric limit, limit 10000, malformed cursor, cursor with offset → 400; unknown user → 404", async () => {
      env = await createTestEnv(driver);
      const a = await producer();
      for (const list of ["followers", "following"]) {
        for (const q of [
          "limit=abc",
          "limit=10000",
          "limit=0",
          "limit=-1",
          "offset=x",
          "cursor=not-a-cursor",
          `cursor=${Buffer.from("[1,2]").toString("base64url")}`,
        ]) {
          const res = await get(`/api/v1/users/${a.id}/${list}?${q}`, a.token);
          expect({ list, q, status: res.status }).toEqual({ list, q, status: 400 });
          const body = await json(res);
          expect(body.error).toBe("validation_error");
          expect(Object.keys(body.fields).length).toBeGreaterThan(0);
        }
        const unknown = await get(`/api/v1/users/01900000-0000-7000-8000-000000000000/${list}`);
        expect(unknown.status).toBe(404);
        expect((await json(unknown)).error).toBe("user_not_found");
      }
    });
  });
}

describe("follow rows", () => {
  test("a follow is one row keyed by the pair, stamped with the server clock", async () => {
    env = await createTestEnv("sqlite");
    const [a, b] = [await producer(), await producer()];
    await pluginFollow(a, b.id);
    const rows = await env.deps.database.db
      .select()
      .from(follows)
      .where(and(eq(follows.followerId, a.id), eq(follows.followeeId, b.id)));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.createdAt).toBe(env.clock.now());
  });
});

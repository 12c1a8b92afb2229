// Emoji reactions through HTTP, as the plugin sends them (POST /feed/like, /feed/unlike) and through REST
// (PUT/DELETE /posts/{id}/reaction), on bun:sqlite and on a real sqld: one reaction per user per post, exact counts
// in every answer, idempotent retries, one canonical form per emoji, and bad input that changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, expectOk, type Producer, registerProducer } from "../support/auth.ts";
import { insertPost, insertReadyPost } from "../support/ready-posts.ts";

for (const driver of DRIVERS) {
  describe(`reactions on ${driver}`, () => {
    let env: TestEnv;
    beforeAll(async () => {
      env = await createTestEnv(driver, { RATE_LIMIT_AUTH_PER_MIN: "10000" });
    });
    afterAll(() => env.close());

    const producer = () => registerProducer(env);
    const post = (path: string, body: unknown, token?: string) => env.request(`/api/v1${path}`, { method: "POST", json: body, token });
    const like = (who: Producer, body: Record<string, unknown>) => post("/feed/like", body, who.token);
    const unlike = (who: Producer, body: Record<string, unknown>) => post("/feed/unlike", body, who.token);
    const rows = async (table: "reactions" | "notifications" | "jobs", postId?: string) => {
      const where = postId ? sql` WHERE post_id = ${postId}` : sql``;
      const [r] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM ${sql.raw(table)}${where}`);
      return Number(r!.n);
    };
    const likeCount = async (postId: string) => {
      const [r] = await env.deps.database.db.all<{ n: number }>(sql`SELECT like_count AS n FROM posts WHERE id = ${postId}`);
      return Number(r!.n);
    };
    const storedEmoji = async (userId: string, postId: string) => {
      const [r] = await env.deps.database.db.all<{ emoji: string }>(sql`SELECT emoji FROM reactions WHERE user_id = ${userId} AND post_id = ${postId}`);
      return r?.emoji;
    };
    const snapshot = async () => ({
      reactions: await rows("reactions"),
      notifications: await rows("notifications"),
      jobs: await rows("jobs"),
      likes: (await env.deps.database.db.all<{ n: number }>(sql`SELECT coalesce(sum(like_count), 0) AS n FROM posts`))[0]!.n,
    });

    test("the plugin's like without an emoji is ❤️, and the answer carries the exact counts", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      const body = await expectOk(await like(fan, { activity_id: postId }));
      expect(body).toEqual({ like_count: 1, is_liked: true, reaction_counts: { "❤️": 1 }, user_reaction: "❤️" });
      expect(await likeCount(postId)).toBe(1);
      // the post as anyone reads it agrees
      const read = await expectOk(await env.request(`/api/v1/posts/${postId}`, { token: fan.token }));
      expect(read.like_count).toBe(1);
    });

    test("activity_id may be the post id or its object loop:<id>; an empty emoji means ❤️ too", async () => {
      const [author, a, b] = [await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      expect(await expectOk(await like(a, { activity_id: `loop:${postId}`, emoji: "🔥" }))).toMatchObject({ like_count: 1, user_reaction: "🔥" });
      expect(await expectOk(await like(b, { activity_id: postId, emoji: "" }))).toEqual({
        like_count: 2,
        is_liked: true,
        reaction_counts: { "🔥": 1, "❤️": 1 },
        user_reaction: "❤️",
      });
    });

    test("a retried like changes nothing: one reaction, one notification, the same answer", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      const first = await expectOk(await like(fan, { activity_id: postId, emoji: "🚀" }));
      const before = await snapshot();
      for (let i = 0; i < 3; i++) expect(await expectOk(await like(fan, { activity_id: postId, emoji: "🚀" }))).toEqual(first);
      expect(await snapshot()).toEqual(before);
      expect(await rows("reactions", postId)).toBe(1);
      expect(await rows("notifications", postId)).toBe(1);
    });

    test("a new emoji replaces the old one: like_count stays, the per-emoji counts move", async () => {
      const [author, fan, other] = [await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await like(other, { activity_id: postId, emoji: "🔥" }));
      await expectOk(await like(fan, { activity_id: postId, emoji: "🔥" }));
      const body = await expectOk(await like(fan, { activity_id: postId, emoji: "💯" }));
      expect(body).toEqual({ like_count: 2, is_liked: true, reaction_counts: { "🔥": 1, "💯": 1 }, user_reaction: "💯" });
      expect(await rows("reactions", postId)).toBe(2);
    });

    test("❤️ with or without its variation selector is one reaction, stored in one form; others accept a stray selector", async () => {
      const [author, a, b, c] = [await producer(), await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await like(a, { activity_id: postId, emoji: "\u2764" })); // bare U+2764
      await expectOk(await like(b, { activity_id: postId, emoji: "\u2764\uFE0F" }));
      const body = await expectOk(await like(c, { activity_id: postId, emoji: "\u{1F525}\uFE0F" })); // 🔥 + FE0F
      expect(body.reaction_counts).toEqual({ "\u2764\uFE0F": 2, "\u{1F525}": 1 });
      expect(body.user_reaction).toBe("\u{1F525}");
      expect(await storedEmoji(a.id, postId)).toBe("\u2764\uFE0F");
      // the same reaction in the other form is a retry, not a change
      const before = await snapshot();
      await expectOk(await like(a, { activity_id: postId, emoji: "\u2764\uFE0F" }));
      expect(await snapshot()).toEqual(before);
      for (const e of ["🎵", "😍", "🚀", "💯"]) expect((await expectOk(await like(a, { activity_id: postId, emoji: e }))).user_reaction).toBe(e);
    });

    test("unlike removes the reaction; unlike again is still success with is_liked false", async () => {
      const [author, fan, other] = [await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await like(other, { activity_id: postId, emoji: "😍" }));
      await expectOk(await like(fan, { activity_id: postId }));
      const gone = await expectOk(await unlike(fan, { activity_id: `loop:${postId}` }));
      expect(gone).toEqual({ like_count: 1, is_liked: false, reaction_counts: { "😍": 1 }, user_reaction: "" });
      expect(await expectOk(await unlike(fan, { activity_id: postId }))).toEqual(gone);
      expect(await likeCount(postId)).toBe(1);
    });

    test("REST: PUT /posts/{id}/reaction sets, its POST alias too, DELETE removes", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      const put = await expectOk(await env.request(`/api/v1/posts/${postId}/reaction`, { method: "PUT", json: { emoji: "🎵" }, token: fan.token }));
      expect(put).toEqual({ like_count: 1, is_liked: true, reaction_counts: { "🎵": 1 }, user_reaction: "🎵" });
      const alias = await expectOk(await post(`/posts/${postId}/reaction`, { emoji: "🔥" }, fan.token));
      expect(alias).toEqual({ like_count: 1, is_liked: true, reaction_counts: { "🔥": 1 }, user_reaction: "🔥" });
      const del = await expectOk(await env.request(`/api/v1/posts/${postId}/reaction`, { method: "DELETE", token: fan.token }));
      expect(del).toEqual({ like_count: 0, is_liked: false, reaction_counts: {}, user_reaction: "" });
    });

    test("an emoji outside the set is 400 invalid_emoji and changes nothing", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await like(fan, { activity_id: postId, emoji: "🔥" }));
      const before = await snapshot();
      for (const emoji of ["👍", "heart", "❤️❤️", "🔥🔥", "\uFE0F", "<3"])
        await expectError(await like(fan, { activity_id: postId, emoji }), 400, "invalid_emoji");
      await expectError(await env.request(`/api/v1/posts/${postId}/reaction`, { method: "PUT", json: { emoji: "" }, token: fan.token }), 400, "invalid_emoji");
      await expectError(
        await env.request(`/api/v1/posts/${postId}/reaction`, { method: "PUT", json: { emoji: "👎" }, token: fan.token }),
        400,
        "invalid_emoji",
      );
      expect(await snapshot()).toEqual(before);
      expect(await storedEmoji(fan.id, postId)).toBe("🔥");
    });

    test("unknown posts are 404, someone else's processing post is 404, the owner's is 409; nothing changes", async () => {
      const [author, fan] = [await producer(), await producer()];
      const processing = await insertPost(env, author.id);
      const before = await snapshot();
      const unknown = Bun.randomUUIDv7();
      await expectError(await like(fan, { activity_id: unknown }), 404, "post_not_found");
      await expectError(await like(fan, { activity_id: `loop:${unknown}` }), 404, "post_not_found");
      await expectError(await unlike(fan, { activity_id: unknown }), 404, "post_not_found");
      await expectError(
        await env.request(`/api/v1/posts/${unknown}/reaction`, { method: "PUT", json: { emoji: "🔥" }, token: fan.token }),
        404,
        "post_not_found",
      );
      await expectError(await env.request(`/api/v1/posts/${unknown}/reaction`, { method: "DELETE", token: fan.token }), 404, "post_not_found");
      // the same answer as for a post that does not exist: no probing for unpublished loops
      await expectError(await like(fan, { activity_id: processing }), 404, "post_not_found");
      await expectError(await unlike(fan, { activity_id: processing }), 404, "post_not_found");
      await expectError(await like(author, { activity_id: processing }), 409, "post_not_ready");
      expect(await snapshot()).toEqual(before);
    });

    test("malformed bodies and missing tokens are clear 4xx and change nothing", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      const before = await snapshot();
      await expectError(await like(fan, {}), 400, "validation_error");
      await expectError(await like(fan, { activity_id: "" }), 400, "validation_error");
      await expectError(await like(fan, { activity_id: "loop:" }), 400, "validation_error");
      await expectError(await like(fan, { activity_id: 42 }), 400, "validation_error");
      await expectError(await like(fan, { activity_id: postId, emoji: 7 }), 400, "validation_error");
      await expectError(
        await env.request("/api/v1/feed/like", { method: "POST", body: "{not json", headers: { "content-type": "application/json" }, token: fan.token }),
        400,
        "invalid_json",
      );
      await expectError(await post("/feed/like", { activity_id: postId }), 401, "unauthorized");
      await expectError(await post("/feed/like", { activity_id: postId }, "not-a-token"), 401, "invalid_token");
      expect(await snapshot()).toEqual(before);
    });

    test("concurrent reactions from many producers leave like_count equal to the reactions", async () => {
      const author = await producer();
      const postId = await insertReadyPost(env, author.id);
      const fans = await Promise.all(Array.from({ length: 12 }, () => producer()));
      const emojis = ["🎵", "❤️", "🔥", "😍", "🚀", "💯"];
      await Promise.all(
        fans.flatMap((f, i) => [
          like(f, { activity_id: postId, emoji: emojis[i % 6] }),
          like(f, { activity_id: postId, emoji: emojis[(i + 1) % 6] }),
          ...(i % 3 === 0 ? [unlike(f, { activity_id: postId })] : []),
        ]),
      );
      const n = await rows("reactions", postId);
      expect(await likeCount(postId)).toBe(n);
      const counts = await expectOk(await like(author, { activity_id: postId, emoji: "🎵" }));
      expect(counts.like_count).toBe(n + 1);
      expect(Object.values(counts.reaction_counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(n + 1);
    });

    test("the owner is notified once per reacting producer; reacting to your own loop notifies nobody", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await like(author, { activity_id: postId, emoji: "🔥" }));
      expect(await rows("notifications", postId)).toBe(0);
      for (const emoji of ["🔥", "🚀", "🔥"]) {
        await expectOk(await like(fan, { activity_id: postId, emoji }));
        await expectOk(await unlike(fan, { activity_id: postId }));
      }
      await expectOk(await like(fan, { activity_id: postId, emoji: "💯" }));
      const [n] = await env.deps.database.db.all<{ user_id: string; emoji: string }>(sql`SELECT user_id, emoji FROM notifications WHERE post_id = ${postId}`);
      expect(await rows("notifications", postId)).toBe(1);
      expect(n).toEqual({ user_id: author.id, emoji: "💯" });
    });

    test("deleting a post removes its reactions, plays and notifications; other posts' counts stay exact", async () => {
      const [author, fan] = [await producer(), await producer()];
      const doomed = await insertReadyPost(env, author.id);
      const kept = await insertReadyPost(env, author.id);
      for (const p of [doomed, kept]) {
        await expectOk(await like(fan, { activity_id: p, emoji: "🔥" }));
        await expectOk(await post("/social/play", { activity_id: p }, fan.token));
      }
      const unreadBefore = (await expectOk(await env.request("/api/v1/notifications/counts", { token: author.token }))).unread;
      await expectOk(await env.request(`/api/v1/posts/${doomed}`, { method: "DELETE", token: author.token }));
      for (const table of ["reactions", "notifications"] as const) expect(await rows(table, doomed)).toBe(0);
      const [plays] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM plays WHERE post_id = ${doomed}`);
      expect(Number(plays!.n)).toBe(0);
      expect((await expectOk(await env.request("/api/v1/notifications/counts", { token: author.token }))).unread).toBe(unreadBefore - 1);
      const still = await expectOk(await env.request(`/api/v1/posts/${kept}`, { token: fan.token }));
      expect({ like_count: still.like_count, play_count: still.play_count }).toEqual({ like_count: 1, play_count: 1 });
      expect(await rows("reactions", kept)).toBe(1);
      await expectError(await like(fan, { activity_id: doomed }), 404, "post_not_found");
      const me = await expectOk(await env.request(`/api/v1/users/me`, { token: author.token }));
      expect(me.post_count).toBe(1);
    });
  });
}

// Plays through HTTP, as the plugin sends them (POST /social/play, /social/listen-duration) and through REST
// (POST /posts/{id}/play), on bun:sqlite and on a real sqld: once per listener per post per 30 minutes, race-free,
// with play_count exact, and bad input that changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, expectOk, type Producer, registerProducer } from "../support/auth.ts";
import { insertPost, insertReadyPost } from "../support/ready-posts.ts";

const MIN = 60_000;

for (const driver of DRIVERS) {
  describe(`plays on ${driver}`, () => {
    let env: TestEnv;
    beforeAll(async () => {
      env = await createTestEnv(driver, { RATE_LIMIT_AUTH_PER_MIN: "10000" });
    });
    afterAll(() => env.close());

    const producer = () => registerProducer(env);
    const post = (path: string, body: unknown, token?: string) => env.request(`/api/v1${path}`, { method: "POST", json: body, token });
    const play = (who: Producer, activityId: string) => post("/social/play", { activity_id: activityId }, who.token);
    const stored = async (postId: string) => {
      const [p] = await env.deps.database.db.all<{ n: number }>(sql`SELECT play_count AS n FROM posts WHERE id = ${postId}`);
      const [r] = await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM plays WHERE post_id = ${postId}`);
      return { play_count: Number(p?.n ?? 0), rows: Number(r!.n) };
    };
    const snapshot = async () =>
      (
        await env.deps.database.db.all<{ plays: number; counts: number; listened: number }>(
          sql`SELECT (SELECT count(*) FROM plays) AS plays, (SELECT coalesce(sum(play_count), 0) FROM posts) AS counts, (SELECT coalesce(sum(listen_ms), 0) FROM plays) AS listened`,
        )
      )[0];

    test("a play counts once per listener per 30 minutes, then again", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      expect(await expectOk(await play(fan, postId))).toEqual({ play_count: 1, counted: true });
      env.clock.advance(29 * MIN);
      expect(await expectOk(await play(fan, `loop:${postId}`))).toEqual({ play_count: 1, counted: false });
      env.clock.advance(1 * MIN + 1);
      expect(await expectOk(await play(fan, postId))).toEqual({ play_count: 2, counted: true });
      expect(await stored(postId)).toEqual({ play_count: 2, rows: 2 });
      // the post's readers see the same number
      expect((await expectOk(await env.request(`/api/v1/posts/${postId}`, { token: fan.token }))).play_count).toBe(2);
    });

    test("each listener counts, the author too; REST POST /posts/{id}/play is the same count", async () => {
      const [author, a, b] = [await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await play(a, postId));
      expect(await expectOk(await env.request(`/api/v1/posts/${postId}/play`, { method: "POST", token: b.token }))).toEqual({ play_count: 2, counted: true });
      expect(
        await expectOk(await env.request(`/api/v1/posts/${postId}/play`, { method: "POST", token: b.token, headers: { "content-type": "application/json" } })),
      ).toEqual({ play_count: 2, counted: false });
      expect(await expectOk(await play(author, postId))).toEqual({ play_count: 3, counted: true });
    });

    test("twenty plays of one listener at the same moment count once", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      const answers = await Promise.all(Array.from({ length: 20 }, () => play(fan, postId).then(expectOk)));
      expect(answers.filter((a) => a.counted).length).toBe(1);
      expect(answers.every((a) => a.play_count === 1)).toBe(true);
      expect(await stored(postId)).toEqual({ play_count: 1, rows: 1 });
    });

    test("listen-duration is kept on the listener's latest play; without a play it is accepted and ignored", async () => {
      const [author, fan, lurker] = [await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await play(fan, postId));
      expect(await expectOk(await post("/social/listen-duration", { activity_id: postId, duration: 12.5 }, fan.token))).toEqual({ ok: true, recorded: true });
      // a shorter report later does not shrink it; a longer one grows it
      await expectOk(await post("/social/listen-duration", { activity_id: `loop:${postId}`, duration: 3 }, fan.token));
      const [row] = await env.deps.database.db.all<{ listen_ms: number }>(sql`SELECT listen_ms FROM plays WHERE post_id = ${postId} AND user_id = ${fan.id}`);
      expect(row!.listen_ms).toBe(12_500);
      await expectOk(await post("/social/listen-duration", { activity_id: postId, duration: 40 }, fan.token));
      const [row2] = await env.deps.database.db.all<{ listen_ms: number }>(sql`SELECT listen_ms FROM plays WHERE post_id = ${postId} AND user_id = ${fan.id}`);
      expect(row2!.listen_ms).toBe(40_000);
      expect(await expectOk(await post("/social/listen-duration", { activity_id: postId, duration: 5 }, lurker.token))).toEqual({ ok: true, recorded: false });
      expect(await stored(postId)).toEqual({ play_count: 1, rows: 1 });
    });

    test("unknown posts are 404, someone else's processing post is 404, the owner's is 409; nothing changes", async () => {
      const [author, fan] = [await producer(), await producer()];
      const processing = await insertPost(env, author.id);
      const before = await snapshot();
      const unknown = Bun.randomUUIDv7();
      await expectError(await play(fan, unknown), 404, "post_not_found");
      await expectError(await env.request(`/api/v1/posts/${unknown}/play`, { method: "POST", token: fan.token }), 404, "post_not_found");
      await expectError(await post("/social/listen-duration", { activity_id: unknown, duration: 3 }, fan.token), 404, "post_not_found");
      await expectError(await play(fan, processing), 404, "post_not_found");
      await expectError(await play(fan, `loop:${processing}`), 404, "post_not_found");
      await expectError(await play(author, processing), 409, "post_not_ready");
      expect(await snapshot()).toEqual(before);
    });

    test("malformed bodies and missing tokens are clear 4xx and change nothing", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await play(fan, postId));
      const before = await snapshot();
      await expectError(await post("/social/play", {}, fan.token), 400, "validation_error");
      await expectError(await post("/social/play", { activity_id: "" }, fan.token), 400, "validation_error");
      await expectError(await post("/social/play", { activity_id: ["x"] }, fan.token), 400, "validation_error");
      for (const duration of [-1, "ten", null, 1e9])
        await expectError(await post("/social/listen-duration", { activity_id: postId, duration }, fan.token), 400, "validation_error");
      await expectError(await post("/social/listen-duration", { activity_id: postId }, fan.token), 400, "validation_error");
      await expectError(await post("/social/play", { activity_id: postId }), 401, "unauthorized");
      await expectError(await env.request(`/api/v1/posts/${postId}/play`, { method: "POST" }), 401, "unauthorized");
      expect(await snapshot()).toEqual(before);
    });
  });
}

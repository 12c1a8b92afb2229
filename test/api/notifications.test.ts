// Notifications through HTTP, on bun:sqlite and on a real sqld: a follow, a reaction to your loop, a loop posted by
// someone you follow; the list with its actor users, unseen/unread counts (the plugin polls /notifications/counts),
// marking read and seen, no spam from repeated events, never a notification of your own action; plus the plugin's
// start-up calls that must succeed. The new-post fan-out is also driven by a real upload (real ffmpeg).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { lavfi, signals } from "../support/audio.ts";
import { registerProcessLoop } from "../../src/audio/process-loop.ts";
import { createNotification, notifyFollowersOfNewPost, pruneNotifications, PRUNE_BATCH } from "../../src/social/notifications.ts";
import { notifications } from "../../src/db/schema.ts";
import { createTestEnv, DRIVERS, type TestEnv } from "../support/deps.ts";
import { expectError, expectOk, json, type Producer, registerProducer, registerUser } from "../support/auth.ts";
import { insertFollow, insertPost, insertReadyPost, markReady } from "../support/ready-posts.ts";
import { expectPublicUser } from "../support/user-shape.ts";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const NOTIFICATION_KEYS = ["actor", "actor_id", "comment_id", "created_at", "emoji", "id", "is_read", "is_seen", "kind", "message", "post_id"];

function expectNotificationShape(n: Record<string, unknown>) {
  expect(Object.keys(n).sort()).toEqual(NOTIFICATION_KEYS);
  for (const k of ["id", "kind", "actor_id", "post_id", "emoji", "message"]) expect({ k, type: typeof n[k] }).toEqual({ k, type: "string" });
  for (const k of ["is_read", "is_seen"]) expect({ k, type: typeof n[k] }).toEqual({ k, type: "boolean" });
  expect(n.created_at).toMatch(ISO);
  expectPublicUser(n.actor);
  expect((n.actor as { id: string }).id).toBe(n.actor_id as string);
}

for (const driver of DRIVERS) {
  describe(`notifications on ${driver}`, () => {
    let env: TestEnv;
    beforeAll(async () => {
      env = await createTestEnv(driver, { RATE_LIMIT_AUTH_PER_MIN: "10000" });
    });
    afterAll(() => env.close());

    const producer = () => registerProducer(env);
    // The plugin sends Content-Type: application/json on every request, GETs included.
    const get = (path: string, token?: string) => env.request(`/api/v1${path}`, { token, headers: { "content-type": "application/json" } });
    const post = (path: string, body: unknown, token?: string) => env.request(`/api/v1${path}`, { method: "POST", json: body, token });
    const list = async (who: Producer, query = "") => expectOk(await get(`/notifications${query}`, who.token));
    const counts = async (who: Producer) => expectOk(await get("/notifications/counts", who.token));
    const rowsFor = async (userId: string) =>
      Number((await env.deps.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM notifications WHERE user_id = ${userId}`))[0]!.n);

    test("a reaction to your loop notifies you, with the reacting producer as a public user and the post id", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id, "Midnight chords");
      await expectOk(await post("/feed/like", { activity_id: postId, emoji: "🔥" }, fan.token));
      const body = await list(author);
      expect(Object.keys(body).sort()).toEqual(["groups", "meta", "notifications", "unread", "unseen"]);
      expect(body).toMatchObject({ unseen: 1, unread: 1, meta: { count: 1, has_more: false, next_cursor: "" } });
      const [n] = body.notifications;
      expectNotificationShape(n);
      expect(n).toMatchObject({ kind: "reaction", actor_id: fan.id, post_id: postId, emoji: "🔥", is_seen: false, is_read: false });
      expect(n.actor.username).toBe(fan.username);
      expect(n.message).toContain("🔥");
      expect(n.message).toContain("Midnight chords");
      expect(await counts(author)).toEqual({ unseen: 1, unread: 1 });
      // the fan is told nothing about their own action
      expect(await counts(fan)).toEqual({ unseen: 0, unread: 0 });
    });

    test("reacting, un-reacting and reacting again does not spam: one notification, the latest emoji, read stays read", async () => {
      const [author, fan] = [await producer(), await producer()];
      const postId = await insertReadyPost(env, author.id);
      await expectOk(await post("/feed/like", { activity_id: postId }, fan.token));
      await expectOk(await post("/notifications/read", {}, author.token));
      for (const emoji of ["🚀", "💯", "😍"]) {
        env.clock.advance(1000);
        await expectOk(await post("/feed/unlike", { activity_id: postId }, fan.token));
        await expectOk(await post("/feed/like", { activity_id: postId, emoji }, fan.token));
      }
      const body = await list(author);
      expect(body.notifications.length).toBe(1);
      expect(body.notifications[0]).toMatchObject({ kind: "reaction", emoji: "😍", is_read: true, is_seen: true });
      expect(await counts(author)).toEqual({ unseen: 0, unread: 0 });
    });

    test("a loop posted by a producer you follow notifies every follower once, in one statement; nobody else", async () => {
      const [author, f1, f2, f3, stranger] = [await producer(), await producer(), await producer(), await producer(), await producer()];
      for (const f of [f1, f2, f3]) await insertFollow(env, f.id, author.id);
      await insertFollow(env, author.id, f1.id); // the author follows back: not a follower of their own post
      const postId = await insertPost(env, author.id, "Fresh loop");
      expect(await rowsFor(f1.id)).toBe(0); // processing: nobody is told yet
      expect(await markReady(env, postId)).toBe(true);
      for (const f of [f1, f2, f3]) {
        const [n] = (await list(f)).notifications;
        expect(n).toMatchObject({ kind: "new_post", actor_id: author.id, post_id: postId, emoji: "", is_read: false });
        expectNotificationShape(n);
        expect(n.actor.is_following).toBe(true);
      }
      expect((await list(f1)).notifications[0].actor.follows_you).toBe(true);
      expect(await rowsFor(stranger.id)).toBe(0);
      expect(await rowsFor(author.id)).toBe(0);
      // the job ran twice (a retry after a crash): no duplicates
      await env.deps.database.tx((tx) => notifyFollowersOfNewPost(env.deps, tx, postId, author.id));
      for (const f of [f1, f2, f3]) expect(await rowsFor(f.id)).toBe(1);
    });

    test("the fan-out is one INSERT ... SELECT: 300 followers are notified in one transaction", async () => {
      const author = await producer();
      const now = env.clock.now();
      // followers as bare rows (registering 300 accounts through HTTP would only test argon2)
      await env.deps.database.tx(async (tx) => {
        for (let i = 0; i < 300; i++) {
          const id = Bun.randomUUIDv7();
          await tx.run(
            sql`INSERT INTO users (id, username, display_name, created_at, updated_at) VALUES (${id}, ${`bulk_${i}_${author.id.slice(-6)}`}, '', ${now}, ${now})`,
          );
          await tx.run(sql`INSERT INTO follows (follower_id, followee_id, created_at) VALUES (${id}, ${author.id}, ${now})`);
        }
      });
      const postId = await insertReadyPost(env, author.id);
      const [r] = await env.deps.database.db.all<{ n: number; ids: number }>(
        sql`SELECT count(*) AS n, count(DISTINCT id) AS ids FROM notifications WHERE post_id = ${postId} AND kind = 'new_post'`,
      );
      expect({ n: Number(r!.n), ids: Number(r!.ids) }).toEqual({ n: 300, ids: 300 });
      const [sample] = await env.deps.database.db.all<{ id: string }>(sql`SELECT id FROM notifications WHERE post_id = ${postId} LIMIT 1`);
      expect(sample!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    test("follows notify the followee once per follower, however often they unfollow and follow again", async () => {
      const [star, fan] = [await producer(), await producer()];
      // (a follow that creates answers 201, see the follows feature)
      const succeeds = async (res: Response) => expect(res.status === 200 || res.status === 201).toBe(true);
      for (let i = 0; i < 3; i++) {
        await succeeds(await post("/social/follow", { target_user_id: star.id }, fan.token));
        await succeeds(await post("/social/unfollow", { target_user_id: star.id }, fan.token));
      }
      await succeeds(await post("/social/follow", { target_user_id: star.id }, fan.token));
      const body = await list(star);
      expect(body.notifications.length).toBe(1);
      expect(body.notifications[0]).toMatchObject({ kind: "follow", actor_id: fan.id, post_id: "", emoji: "" });
      expect(body.notifications[0].actor.follows_you).toBe(true);
      // createNotification never notifies yourself
      await env.deps.database.tx((tx) => createNotification(env.deps, tx, { kind: "follow", userId: star.id, actorId: star.id }));
      expect(await rowsFor(star.id)).toBe(1);
    });

    test("seen clears the badge, read marks given ids (or all), other users' ids are ignored", async () => {
      const [me, a, b, c, other] = [await producer(), await producer(), await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, me.id);
      for (const who of [a, b, c]) {
        env.clock.advance(1000);
        await expectOk(await post("/feed/like", { activity_id: postId }, who.token));
      }
      const otherPost = await insertReadyPost(env, other.id);
      await expectOk(await post("/feed/like", { activity_id: otherPost }, a.token));
      const othersId = (await list(other)).notifications[0].id;

      expect(await counts(me)).toEqual({ unseen: 3, unread: 3 });
      expect(await expectOk(await post("/notifications/seen", {}, me.token))).toEqual({ ok: true, updated: 3, unseen: 0, unread: 3 });
      expect(await expectOk(await post("/notifications/seen", {}, me.token))).toEqual({ ok: true, updated: 0, unseen: 0, unread: 3 });
      const [newest, middle] = (await list(me)).notifications;
      expect(newest.actor_id).toBe(c.id); // newest first
      expect(await expectOk(await post("/notifications/read", { ids: [newest.id, othersId, "nope"] }, me.token))).toEqual({
        ok: true,
        updated: 1,
        unseen: 0,
        unread: 2,
      });
      expect(await counts(other)).toEqual({ unseen: 1, unread: 1 });
      const after = await list(me);
      expect(after.notifications.map((n: { id: string; is_read: boolean }) => [n.id, n.is_read])).toEqual([
        [newest.id, true],
        [middle.id, false],
        [after.notifications[2].id, false],
      ]);
      expect(await expectOk(await post("/notifications/read", { ids: [] }, me.token))).toMatchObject({ updated: 2, unread: 0 });
      // a read notification that arrives later is unread and unseen again (a new event, a new row)
      const d = await producer();
      await expectOk(await post("/feed/like", { activity_id: postId }, d.token));
      expect(await counts(me)).toEqual({ unseen: 1, unread: 1 });
      // the plugin's empty-body POST arrives as GET: it marks everything
      expect(
        await expectOk(await env.request("/api/v1/notifications/seen", { token: me.token, headers: { "content-type": "application/json" } })),
      ).toMatchObject({ updated: 1, unseen: 0, unread: 1 });
      expect(
        await expectOk(await env.request("/api/v1/notifications/read", { token: me.token, headers: { "content-type": "application/json" } })),
      ).toMatchObject({ updated: 1, unread: 0 });
    });

    test("the list pages by offset (plugin) and by cursor; bad paging is a clear 400", async () => {
      const me = await producer();
      const fans = [await producer(), await producer(), await producer(), await producer(), await producer()];
      const postId = await insertReadyPost(env, me.id);
      for (const f of fans) {
        env.clock.advance(1000);
        await expectOk(await post("/feed/like", { activity_id: postId }, f.token));
      }
      const all = (await list(me, "?limit=100")).notifications.map((n: { id: string }) => n.id);
      expect(all.length).toBe(5);
      const p1 = await list(me, "?limit=2&offset=0");
      const p2 = await list(me, "?limit=2&offset=2");
      const p3 = await list(me, "?limit=2&offset=4");
      expect([p1, p2, p3].map((p) => p.meta.has_more)).toEqual([true, true, false]);
      expect([...p1.notifications, ...p2.notifications, ...p3.notifications].map((n: { id: string }) => n.id)).toEqual(all);
      expect((await list(me, "?offset=50")).notifications).toEqual([]);
      // cursor pages are stable while new notifications arrive
      const c1 = await list(me, "?limit=3");
      const late = await producer();
      await expectOk(await post("/feed/like", { activity_id: postId }, late.token));
      const c2 = await list(me, `?limit=3&cursor=${c1.meta.next_cursor}`);
      expect([...c1.notifications, ...c2.notifications].map((n: { id: string }) => n.id)).toEqual(all);
      expect(c2.meta).toEqual({ count: 2, has_more: false, next_cursor: "" });
      expect(c1.unread).toBe(5);
      expect(c2.unread).toBe(6);
      for (const q of ["?limit=10000", "?limit=0", "?limit=abc", "?offset=-1", "?cursor=garbage", `?cursor=${c1.meta.next_cursor}&offset=2`]) {
        await expectError(await get(`/notifications${q}`, me.token), 400, "validation_error");
      }
    });

    test("without a valid token the notification routes are 401", async () => {
      await expectError(await get("/notifications"), 401, "unauthorized");
      await expectError(await get("/notifications/counts", "bogus"), 401, "invalid_token");
      await expectError(await post("/notifications/read", {}), 401, "unauthorized");
      await expectError(await post("/notifications/seen", {}), 401, "unauthorized");
      const me = await producer();
      await expectError(await post("/notifications/read", { ids: "all" }, me.token), 400, "validation_error");
    });

    test("notifications older than the retention go, in batches, read or not; newer ones and 0 (keep all) stay", async () => {
      const [me, fan] = [await producer(), await producer()];
      const DAY = 86_400_000;
      const now = env.clock.now();
      const rows = Array.from({ length: PRUNE_BATCH + 7 }, (_, i) => ({
        id: Bun.randomUUIDv7(),
        userId: me.id,
        actorId: fan.id,
        kind: "follow",
        dedupeKey: `test-old:${me.id}:${i}`,
        createdAt: now - 91 * DAY - i,
        readAt: i % 2 ? now : null,
      }));
      for (let i = 0; i < rows.length; i += 500) await env.deps.database.db.insert(notifications).values(rows.slice(i, i + 500));
      await createNotification(env.deps, env.deps.database.db, { kind: "follow", userId: me.id, actorId: fan.id }); // today
      expect((await counts(me)).unread).toBe(Math.ceil(rows.length / 2) + 1);
      expect(await pruneNotifications(env.deps, 0)).toBe(0);
      expect(await rowsFor(me.id)).toBe(rows.length + 1);
      expect(await pruneNotifications(env.deps, 90)).toBe(rows.length); // more than one batch
      expect(await rowsFor(me.id)).toBe(1);
      expect(await counts(me)).toEqual({ unseen: 1, unread: 1 });
      expect((await list(me)).notifications.map((n: { kind: string }) => n.kind)).toEqual(["follow"]);
      expect(await pruneNotifications(env.deps, 90)).toBe(0);
    });

    test("the plugin's start-up calls succeed: follow-requests count 0, no stories yet", async () => {
      const me = await producer();
      expect(await expectOk(await get("/users/me/follow-requests/count", me.token))).toEqual({ count: 0 });
      expect(await expectOk(await get("/stories", me.token))).toEqual({ stories: [], groups: [] });
    });
  });
}

describe("notifications from a real upload", () => {
  const work = mkdtempSync(join(tmpdir(), "sc-notify-"));
  let env: TestEnv;
  let wav: string;
  beforeAll(async () => {
    wav = await lavfi(join(work, "drums.wav"), signals.drums(2), ["-c:a", "pcm_s16le", "-f", "wav"]);
    env = await createTestEnv("sqlite", { PUBLIC_URL: "http://localhost" });
    registerProcessLoop(env.deps);
    await env.deps.jobs.start();
  }, 60_000);
  afterAll(async () => {
    await env.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("followers are notified when an uploaded loop becomes ready, in the transaction that makes it ready", async () => {
    const author = (await registerUser(env)).auth;
    const fan = (await registerUser(env)).auth;
    await insertFollow(env, fan.user.id, author.user.id);
    const form = new FormData();
    form.set("filename", "Upload drums");
    form.set("audio_file", Bun.file(wav), "loop.wav");
    const res = await env.request("/api/v1/audio/upload", { method: "POST", body: form, token: author.token });
    const loop = await json(res);
    expect({ status: res.status, state: loop.status }).toEqual({ status: 201, state: "ready" });
    const body = await json(await env.request("/api/v1/notifications", { token: fan.token }));
    expect(body.unread).toBe(1);
    expect(body.notifications[0]).toMatchObject({ kind: "new_post", post_id: loop.id, actor_id: author.user.id });
    expect(body.notifications[0].message).toContain("Upload drums");
  }, 60_000);
});
